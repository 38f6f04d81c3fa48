"""Chat wire profiles: where a gateway takes the conversation and its settings, where it puts the answer, the
token counts and the finish reason, and how it frames a stream (Server-Sent Events or NDJSON).

Presets: `lakehouse-legacy` (`POST /ai/chat`, OpenAI-like, SSE), `lakehouse-candidate` (`POST /v1/chat`,
Ollama-like, NDJSON), `openai` (`/v1/chat/completions`) and `ollama` (`/api/chat`). Streamed and non-streamed
answers parse into one typed value, `ChatAnswer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import orjson

from farm.probes.base import MalformedBody, Profile
from farm.profiles import get_path, set_path

STREAM_TRUNCATED = "stream_truncated"  # the stream ended (or broke) before its done marker


@dataclass(frozen=True, kw_only=True)
class ChatProfile(Profile):
    probe: ClassVar[str] = "chat"
    messages_field: str = "messages"
    model_field: str = "model"
    default_model: str = ""               # sent when the sweep forces none ("" : the field is left out)
    temperature_path: str = "temperature"
    max_tokens_path: str = "max_tokens"
    seed_path: str = "seed"
    stream_field: str = "stream"
    text_path: str = "choices[].message.content"
    finish_path: str = "choices[].finish_reason"
    prompt_tokens_path: str = "usage.prompt_tokens"
    completion_tokens_path: str = "usage.completion_tokens"
    stream_format: str = "sse"            # "sse" (data: lines, a done marker) or "ndjson" (a JSON object a line)
    stream_text_path: str = "choices[].delta.content"
    stream_finish_path: str = "choices[].finish_reason"
    done_marker: str = "[DONE]"           # SSE: the data of the last event
    done_field: str = "done"              # NDJSON: true on the last line

    def __post_init__(self) -> None:
        if self.stream_format not in ("sse", "ndjson"):
            raise ValueError(f"stream_format must be 'sse' or 'ndjson', not {self.stream_format!r}")

    # --- requests ------------------------------------------------------------------------------------
    def build_request(self, conversation: Mapping[str, Any], model: str | None, settings: Mapping[str, Any],
                      stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {self.messages_field: conversation["messages"]}
        chosen = model or self.default_model
        if chosen and self.model_field:
            body[self.model_field] = chosen
        for key, path in (("temperature", self.temperature_path), ("max_tokens", self.max_tokens_path),
                          ("seed", self.seed_path)):
            value = conversation.get(key, settings.get(key))
            if value is not None and path:
                set_path(body, path, value)
        body[self.stream_field] = stream
        return body

    def conversation_of(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A request body back into a conversation (captured traffic, demo gateways)."""
        messages = body.get(self.messages_field)
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role"), str)
                for m in messages):
            raise MalformedBody(f"{self.messages_field!r} must be a non-empty list of {{role, content}} objects")
        out: dict[str, Any] = {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}
        for key, path in (("temperature", self.temperature_path), ("max_tokens", self.max_tokens_path),
                          ("seed", self.seed_path)):
            value = get_path(dict(body), path) if path else None
            if value is not None:
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise MalformedBody(f"{path!r} must be a number")
                out[key] = value
        return out

    def model_of(self, body: Mapping[str, Any]) -> str | None:
        value = body.get(self.model_field) if self.model_field else None
        return value if isinstance(value, str) and value else None

    def wants_stream(self, body: Mapping[str, Any]) -> bool:
        return body.get(self.stream_field) is True

    # --- responses -----------------------------------------------------------------------------------
    def parse_answer(self, doc: Any) -> ChatAnswer:
        """A non-streamed answer; MalformedBody when the text is not where the profile says."""
        text = first(get_path(doc, self.text_path))
        if not isinstance(text, str):
            raise MalformedBody(f"no text at {self.text_path!r}")
        return ChatAnswer(text=text, finish=_str(first(get_path(doc, self.finish_path))),
                          prompt_tokens=_int(get_path(doc, self.prompt_tokens_path)),
                          completion_tokens=_int(get_path(doc, self.completion_tokens_path)), streamed=False)

    def parse_stream(self, pieces: Sequence[tuple[float, bytes]], complete: bool) -> tuple[ChatAnswer, bool, Any]:
        """A streamed answer from its timed pieces: (answer, whether the done marker came, the last event as
        the document standing for the stream). MalformedBody on a line of another framing."""
        text: list[str] = []
        finish: str | None = None
        prompt = completion = None
        ttft = None
        done = False
        last: Any = None
        buffer = b""
        for t, chunk in pieces:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                event = self._event(raw)
                if event is None:
                    continue
                if event is _DONE:
                    done = True
                    continue
                last = event
                piece = first(get_path(event, self.stream_text_path))
                if isinstance(piece, str) and piece:
                    text.append(piece)
                    ttft = t if ttft is None else ttft
                finish = _str(first(get_path(event, self.stream_finish_path))) or finish
                prompt = _int(get_path(event, self.prompt_tokens_path)) or prompt
                completion = _int(get_path(event, self.completion_tokens_path)) or completion
                if self.stream_format == "ndjson" and get_path(event, self.done_field) is True:
                    done = True
        if buffer.strip() and complete:
            event = self._event(buffer)  # a last line without its newline
            if event is _DONE:
                done = True
        answer = ChatAnswer(text="".join(text), finish=finish, prompt_tokens=prompt, completion_tokens=completion,
                            ttft_ms=ttft, streamed=True, chunks=sum(1 for _ in text))
        return answer, done, last

    def _event(self, raw: bytes) -> Any:
        line = raw.strip()
        if not line:
            return None
        if self.stream_format == "sse":
            if line.startswith(b":") or not line.startswith(b"data:"):
                return None  # comments (keep-alive pings) and event / id fields
            data = line[5:].strip()
            if data.decode(errors="replace") == self.done_marker:
                return _DONE
            line = data
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            raise MalformedBody(f"not a {self.stream_format} stream line: {line[:60]!r}") from None

    # --- demo gateway: building answers ---------------------------------------------------------------
    def answer_document(self, text: str, finish: str, prompt: int, completion: int, model: str) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        _put(doc, self.text_path, text)
        _put(doc, self.finish_path, finish)
        if self.text_path.startswith("choices[]"):
            _put(doc, "choices[].message.role", "assistant")
            _put(doc, "choices[].index", 0)
        elif self.text_path.endswith(".content"):
            set_path(doc, self.text_path.removesuffix(".content") + ".role", "assistant")
        if self.model_field:
            doc[self.model_field] = model
        if self.stream_format == "ndjson":
            doc[self.done_field] = True
        set_path(doc, self.prompt_tokens_path, prompt)
        set_path(doc, self.completion_tokens_path, completion)
        return doc

    def stream_events(self, pieces: Sequence[str], finish: str, prompt: int, completion: int, model: str,
                      *, cut: bool) -> list[bytes]:
        """The framed lines of a streamed answer; `cut` stops halfway, before any done marker."""
        out: list[bytes] = []
        for piece in pieces:
            event: dict[str, Any] = {}
            _put(event, self.stream_text_path, piece)
            if self.model_field:
                event[self.model_field] = model
            if self.stream_format == "ndjson":
                event[self.done_field] = False
            out.append(self._frame(event))
        if cut:
            return out[: max(1, len(out) // 2)]
        final: dict[str, Any] = {}
        _put(final, self.stream_text_path, "")
        _put(final, self.stream_finish_path, finish)
        if self.model_field:
            final[self.model_field] = model
        if self.stream_format == "ndjson":
            final[self.done_field] = True
        set_path(final, self.prompt_tokens_path, prompt)
        set_path(final, self.completion_tokens_path, completion)
        out.append(self._frame(final))
        if self.stream_format == "sse":
            out.append(f"data: {self.done_marker}\n\n".encode())
        return out

    def _frame(self, event: dict[str, Any]) -> bytes:
        body = orjson.dumps(event)
        return b"data: " + body + b"\n\n" if self.stream_format == "sse" else body + b"\n"

    @property
    def media_type(self) -> str:
        return "text/event-stream" if self.stream_format == "sse" else "application/x-ndjson"


_DONE = object()


@dataclass(frozen=True)
class ChatAnswer:
    """One answer, streamed or not: what the comparison reads."""

    text: str
    finish: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: float | None = None      # time to the first content token (non-streamed: the whole answer)
    tokens_per_s: float | None = None  # completion tokens over the request's whole duration
    streamed: bool = False
    chunks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChatAnswer:
        return cls(**d)


def first(value: Any) -> Any:
    """A `name[]` path reads a list: its first element (the first choice)."""
    return (value[0] if value else None) if isinstance(value, list) else value


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    set_path(doc, path, [value] if "[]" in path else value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


PRESETS: dict[str, Profile] = {
    "lakehouse-legacy": ChatProfile(name="lakehouse-legacy", path="/ai/chat"),
    "lakehouse-candidate": ChatProfile(
        name="lakehouse-candidate", path="/v1/chat", default_model="trigram-demo",
        temperature_path="options.temperature", max_tokens_path="options.num_predict", seed_path="options.seed",
        text_path="message.content", finish_path="done_reason", prompt_tokens_path="prompt_eval_count",
        completion_tokens_path="eval_count", stream_format="ndjson", stream_text_path="message.content",
        stream_finish_path="done_reason"),
    "openai": ChatProfile(name="openai", path="/v1/chat/completions", default_model="trigram-demo"),
    "ollama": ChatProfile(
        name="ollama", path="/api/chat", default_model="trigram-demo",
        temperature_path="options.temperature", max_tokens_path="options.num_predict", seed_path="options.seed",
        text_path="message.content", finish_path="done_reason", prompt_tokens_path="prompt_eval_count",
        completion_tokens_path="eval_count", stream_format="ndjson", stream_text_path="message.content",
        stream_finish_path="done_reason"),
}
