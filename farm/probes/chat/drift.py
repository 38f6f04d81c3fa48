"""Chat field roles for the drift catalog: message paths, usage field names, finish-reason field, done markers,
stream framing and request settings; and the rows only paired samples show (token-count offsets, finish-reason
names, stream-vs-plain equality).

The response rows come from the profiles and are checked against the observed documents (`observed` in each
row's evidence); the structural diff adds the general findings after them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from farm.probes.base import Profile
from farm.probes.chat.profile import ChatProfile
from farm.probes.chat.verdict import finish_map, token_accounting
from farm.wiredrift.roles import DriftRoles, RoleFields, url_row
from farm.wiredrift.rows import DriftRow


def _chat(profile: Profile) -> ChatProfile:
    assert isinstance(profile, ChatProfile)
    return profile


def _code(*paths: str) -> str:
    return ", ".join(f"`{p}`" for p in paths if p) or "(none)"


def framing(p: ChatProfile) -> str:
    if p.stream_format == "sse":
        return "Server-Sent Events (`text/event-stream`, `data:` lines)"
    return "NDJSON (`application/x-ndjson`, one JSON object a line)"


def done_marker(p: ChatProfile) -> str:
    return f"`data: {p.done_marker}`" if p.stream_format == "sse" else f"`\"{p.done_field}\": true` on the last line"


MAX_COUNTS = 64  # responses whose token counts are kept per side, to fit the adapter's count offsets


class ChatRoles(DriftRoles):
    fact_keys = ("streamed",)

    def empty_facts(self) -> dict[str, Any]:
        return {**super().empty_facts(), "counts": []}

    def observe_facts(self, facts: dict[str, Any], profile: Profile, request: Any, flat: dict[str, Any]) -> str | None:
        p = _chat(profile)
        facts["docs"] += 1
        if isinstance(request, dict) and p.wants_stream(request):
            facts["streamed"]["requests"] = facts["streamed"].get("requests", 0) + 1
        # In observation order: the observer folds both sides of a batch together, so the n-th entry of each
        # side answers the same conversation.
        if len(facts["counts"]) < MAX_COUNTS:
            facts["counts"].append([_count(flat.get(p.prompt_tokens_path)),
                                    _count(flat.get(p.completion_tokens_path))])
        return None

    def merge_facts(self, facts: dict[str, Any], other: dict[str, Any]) -> None:
        super().merge_facts(facts, other)
        facts["counts"] = (facts.get("counts", []) + other.get("counts", []))[:MAX_COUNTS]

    def fields(self, state: dict[str, Any], profile: Profile, side: str) -> RoleFields:
        p = _chat(profile)
        # The answer text plays the part of the main values: the adapter map moves it like embed's vectors. The
        # finish and count fields are paired by the probe's own rows: not also missing and extra fields.
        return RoleFields(vectors=p.text_path, model=p.model_field or None, texts=p.messages_field,
                          paired=(p.finish_path, p.prompt_tokens_path, p.completion_tokens_path))

    def count_offsets(self, state: dict[str, Any]) -> tuple[int | None, int | None]:
        """The constant offsets (candidate - legacy) of the prompt and completion counts on the observed answers;
        None where the counts are not there, or the offset is not one value."""
        pairs = list(zip(state["facts"]["legacy"].get("counts", []), state["facts"]["candidate"].get("counts", []),
                         strict=False))
        out: list[int | None] = []
        for i in (0, 1):
            d = Counter(c[i] - lg[i] for lg, c in pairs if lg[i] is not None and c[i] is not None)
            out.append(next(iter(d)) if len(d) == 1 else None)
        return out[0], out[1]

    def rows(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[DriftRow]:
        lp, cp = _chat(legacy), _chat(candidate)
        seen = state["response"]["paths"]

        def observed(p: ChatProfile, side: str, *paths: str) -> dict[str, bool]:
            return {path: path in seen[side] for path in paths if path}

        streamed = {side: state["facts"][side].get("streamed", {}).get("requests", 0) for side in ("legacy",
                                                                                                     "candidate")}
        l_usage, c_usage = (lp.prompt_tokens_path, lp.completion_tokens_path), (cp.prompt_tokens_path,
                                                                                 cp.completion_tokens_path)
        l_req = (lp.temperature_path, lp.max_tokens_path, lp.seed_path, lp.stream_field)
        c_req = (cp.temperature_path, cp.max_tokens_path, cp.seed_path, cp.stream_field)
        return [
            url_row(legacy, candidate),
            DriftRow("message", "Response: answer text", _code(lp.text_path), _code(cp.text_path),
                     lp.text_path == cp.text_path,
                     {"legacy_path": lp.text_path, "candidate_path": cp.text_path,
                      "legacy_observed": observed(lp, "legacy", lp.text_path),
                      "candidate_observed": observed(cp, "candidate", cp.text_path)}),
            DriftRow("usage", "Response: token counts (prompt, completion)", _code(*l_usage), _code(*c_usage),
                     l_usage == c_usage,
                     {"legacy_paths": list(l_usage), "candidate_paths": list(c_usage),
                      "legacy_observed": observed(lp, "legacy", *l_usage),
                      "candidate_observed": observed(cp, "candidate", *c_usage)}),
            DriftRow("finish", "Response: finish reason field", _code(lp.finish_path), _code(cp.finish_path),
                     lp.finish_path == cp.finish_path,
                     {"legacy_path": lp.finish_path, "candidate_path": cp.finish_path}),
            DriftRow("framing", "Stream framing", framing(lp), framing(cp), lp.stream_format == cp.stream_format,
                     {"legacy_format": lp.stream_format, "candidate_format": cp.stream_format,
                      "streamed_requests": streamed,
                      "legacy_chunk_text": lp.stream_text_path, "candidate_chunk_text": cp.stream_text_path}),
            DriftRow("done", "Stream done marker", done_marker(lp), done_marker(cp),
                     done_marker(lp) == done_marker(cp),
                     {"legacy_format": lp.stream_format, "candidate_format": cp.stream_format}),
            DriftRow("request", "Request settings (temperature, max tokens, seed, stream)", _code(*l_req),
                     _code(*c_req), l_req == c_req,
                     {"legacy_paths": list(l_req), "candidate_paths": list(c_req),
                      "legacy_messages": lp.messages_field, "candidate_messages": cp.messages_field}),
        ]

    def adapter_moves(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        lp, cp = _chat(legacy), _chat(candidate)
        seen = state["response"]["paths"]
        # The text is the role fields' main values: the shared map moves it already.
        pairs = ((cp.finish_path, lp.finish_path), (cp.prompt_tokens_path, lp.prompt_tokens_path),
                 (cp.completion_tokens_path, lp.completion_tokens_path))
        return [{"from": c, "to": lt} for c, lt in pairs
                if c and lt and c != lt and c in seen["candidate"] and lt in seen["legacy"]]

    def adapter_ops(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> list[dict[str, Any]]:
        """The candidate's counts brought back by their constant offset (a per-message offset needs the request,
        which one response document does not have: the catalog's token rows say it)."""
        lp = _chat(legacy)
        ops = []
        for path, off, what in zip((lp.prompt_tokens_path, lp.completion_tokens_path), self.count_offsets(state),
                                   ("prompt", "completion"), strict=True):
            if off:
                ops.append({"op": "affine", "path": path, "scale": 1, "offset": -off,
                            "why": f"the candidate counts {off:+d} {what} tokens"})
        return ops

    def adapter_notes(self, state: dict[str, Any], legacy: Profile, candidate: Profile) -> dict[str, Any]:
        lp, cp = _chat(legacy), _chat(candidate)
        return {"stream": {
            "from": cp.stream_format, "to": lp.stream_format,
            "chunk_text": {"from": cp.stream_text_path, "to": lp.stream_text_path},
            "finish": {"from": cp.stream_finish_path, "to": lp.stream_finish_path},
            "done": {"from": done_marker(cp), "to": done_marker(lp)},
            "same": (lp.stream_format, lp.stream_text_path, done_marker(lp)) == (
                cp.stream_format, cp.stream_text_path, done_marker(cp))},
            "finish_reason_classes": "see the drift catalog's `Finish reason names` row (from paired samples)"}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _offset_row(kind: str, what: str, stats: dict[str, Any]) -> DriftRow | None:
    if not stats["n"]:
        silent = [side for side, n in (stats.get("sent") or {}).items() if n == 0]
        if stats.get("answers") and silent:
            return DriftRow(kind, f"Token accounting: {what} tokens",
                            "not sent" if "legacy" in silent else "reference count",
                            "not sent" if "candidate" in silent else "count sent", False, stats)
        return None
    off, bad = stats["offset"], stats["inconsistent"]
    if off == 0 and bad == 0:
        return DriftRow(kind, f"Token accounting: {what} tokens", "reference count", "same count", True, stats)
    more = f"counts {abs(off)} {'more' if off > 0 else 'fewer'} {what} token{'s' if abs(off) != 1 else ''}"
    cell = f"candidate {more}" if off else "same count on most samples"
    k = stats.get("per_message")
    if k:
        cell = (f"candidate counts {abs(k)} {'more' if k > 0 else 'fewer'} {what} token{'s' if abs(k) != 1 else ''} "
                f"per message (an offset that grows with the conversation; {bad} of {stats['n']} samples off the "
                f"modal {off:+d}, disagreements)")
    elif bad:
        cell += f"; inconsistent on {bad} of {stats['n']} samples (disagreements)"
    return DriftRow(kind, f"Token accounting: {what} tokens", "reference count", cell, False, stats)


def sample_rows(arrays: dict[str, NDArray[Any]], errors: dict[str, list[Any]]) -> list[DriftRow]:
    """Rows from the paired samples: count offsets, finish-reason names, stream-vs-plain equality."""
    rows: list[DriftRow] = []
    tokens, _ = token_accounting(arrays)
    for kind, what in (("tokens_prompt", "prompt"), ("tokens_completion", "completion")):
        row = _offset_row(kind, what, tokens[what])
        if row is not None:
            rows.append(row)
    fm = finish_map(errors, arrays["exact"])
    if fm["pairs"] or fm["unmapped"]:
        renamed = sorted({(p["legacy"], p["candidate"]) for p in fm["pairs"] if p["legacy"] != p["candidate"]})
        cells = ", ".join(f"`{a}` → `{b}`" for a, b in renamed) or "same names"
        unmapped = f"; unmapped: {', '.join(f'`{n}`' for n in fm['unmapped'])}" if fm["unmapped"] else ""
        rows.append(DriftRow("finish_names", "Finish reason names", "reference names", cells + unmapped,
                             not renamed and not fm["unmapped"], fm))
    sampled = bool(np.isfinite(arrays["margin"]).any())  # semantic mode: answers are sampled, may differ
    for side in ("legacy", "candidate"):
        v = arrays[f"stream_{side}"]
        checked = int((v >= 0).sum())
        if checked:
            differ = int((v == 0).sum())
            note = " (sampled answers: equality not expected)" if sampled and differ else ""
            rows.append(DriftRow("stream_equality", f"Stream vs plain answer ({side})", "",
                                 f"{checked - differ} of {checked} streamed answers equal the plain one{note}",
                                 differ == 0 or sampled, {"side": side, "checked": checked, "differ": differ,
                                                          "sampled": sampled}))
    return rows
