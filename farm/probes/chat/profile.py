"""Chat wire profiles: where a gateway takes the conversation and its settings, where it puts the answer, the
token counts and the finish reason, and how it frames a stream (Server-Sent Events or NDJSON).

Presets: `lakehouse-legacy` (`POST /ai/chat`, OpenAI-like, SSE), `lakehouse-candidate` (`POST /v1/chat`,
Ollama-like, NDJSON), `openai` (`/v1/chat/completions`, asks for usage in streams) and `ollama` (`/api/chat`).
No preset names a model: the request carries one only when the profile (`model = ...`) or the sweep (`--model`)
gives it. Streamed and non-streamed answers parse into one typed value, `ChatAnswer`.

Stream parsing follows the SSE spec where it matters (an event's `data:` lines joined with "\n", dispatched at
the blank line; `event: error`), reads an NDJSON last line without its newline, and keeps an error sent inside
a stream (`{"error": ...}`) as its own class, `stream_error`, with its message. It is written here, not taken
from httpx-sse, because the pieces arrive timed (time to first token) and the decoder there is private.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import orjson

from farm.probes.base import MalformedBody, Profile
from farm.profiles import get_path, set_path

STREAM_TRUNCATED = "stream_truncated"  # the stream ended (or broke) before its done marker
STREAM_ERROR = "stream_error"          # the stream carried an error event (its message is kept)
ERROR_CHARS = 200                      # characters of an in-stream error message kept


@dataclass(frozen=True, kw_only=True)
class ChatProfile(Profile):
    probe: ClassVar[str] = "chat"
    messages_field: str = "messages"
    model_field: str = "model"
    model: str = ""                       # sent when the sweep gives none (`--model`); "": no model field
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
    request_extra: dict[str, Any] = field(default_factory=dict)  # more request fields, sent every time
    stream_extra: dict[str, Any] = field(default_factory=dict)   # more request fields, sent when streaming

    def __post_init__(self) -> None:
        if self.stream_format not in ("sse", "ndjson"):
            raise ValueError(f"stream_format must be 'sse' or 'ndjson', not {self.stream_format!r}")

    # --- requests ------------------------------------------------------------------------------------
    def build_request(self, conversation: Mapping[str, Any], model: str | None, settings: Mapping[str, Any],
                      stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = _merged({}, self.request_extra)
        if stream:
            body = _merged(body, self.stream_extra)
        body[self.messages_field] = conversation["messages"]
        chosen = model or self.model
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
        s = _Stream()
        buffer = b""
        t = 0.0
        for t, chunk in pieces:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                self._line(raw, t, s)
        if complete:
            if buffer.strip():
                self._line(buffer, t, s)  # a last line without its newline
            if s.data:
                self._dispatch(t, s)      # SSE: a last event without its blank line
        answer = ChatAnswer(text="".join(s.text), finish=s.finish, prompt_tokens=s.prompt,
                            completion_tokens=s.completion, ttft_ms=s.ttft, streamed=True, chunks=len(s.text),
                            error=s.error)
        return answer, s.done, s.last

    def _line(self, raw: bytes, t: float, s: _Stream) -> None:
        if self.stream_format == "ndjson":
            line = raw.strip()
            if line:
                self._event(_json(line, "ndjson"), t, s)
            return
        line = raw.rstrip(b"\r")
        if not line:
            self._dispatch(t, s)  # a blank line ends the event
            return
        if line.startswith(b":"):
            return  # a comment (keep-alive ping)
        name, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if name == b"data":
            s.data.append(value)
        elif name == b"event":
            s.event_type = value.decode(errors="replace").strip()

    def _dispatch(self, t: float, s: _Stream) -> None:
        """An SSE event: its data lines joined with a newline, as the spec says."""
        data, event_type = b"\n".join(s.data), s.event_type
        s.data, s.event_type = [], ""
        if not data.strip():
            return
        if data.strip().decode(errors="replace") == self.done_marker:
            s.done = True
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            if event_type == "error":  # `event: error` with a plain-text message
                s.error = data.decode(errors="replace").strip()[:ERROR_CHARS]
                return
            raise MalformedBody(f"not a sse stream event: {data[:60]!r}") from None
        if event_type == "error" and not (isinstance(event, dict) and "error" in event):
            event = {"error": event}
        self._event(event, t, s)

    def _event(self, event: Any, t: float, s: _Stream) -> None:
        if isinstance(event, dict) and event.get("error") not in (None, False, ""):
            s.error = error_message(event["error"])
            return
        s.last = event
        piece = first(get_path(event, self.stream_text_path))
        if isinstance(piece, str) and piece:
            s.text.append(piece)
            s.ttft = t if s.ttft is None else s.ttft
        s.finish = _str(first(get_path(event, self.stream_finish_path))) or s.finish
        prompt, completion = _int(get_path(event, self.prompt_tokens_path)), _int(
            get_path(event, self.completion_tokens_path))
        s.prompt = prompt if prompt is not None else s.prompt  # a count of 0 is a count
        s.completion = completion if completion is not None else s.completion
        if self.stream_format == "ndjson" and get_path(event, self.done_field) is True:
            s.done = True

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


@dataclass
class _Stream:
    """What a stream said so far, while it is parsed."""

    text: list[str] = field(default_factory=list)
    finish: str | None = None
    prompt: int | None = None
    completion: int | None = None
    ttft: float | None = None
    done: bool = False
    last: Any = None
    error: str | None = None
    data: list[bytes] = field(default_factory=list)  # SSE: the data lines of the event being read
    event_type: str = ""


def _json(line: bytes, framing: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        raise MalformedBody(f"not a {framing} stream line: {line[:60]!r}") from None


def error_message(error: Any) -> str:
    """An error event's message: OpenAI's `{"message": ...}`, Ollama's string, else the JSON."""
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        text = str(error["message"])
    elif isinstance(error, str):
        text = error
    else:
        text = orjson.dumps(error).decode()
    return text[:ERROR_CHARS]


def _merged(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` merged into a copy of `base`, tables into tables."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, Mapping) and isinstance(out.get(key), dict) \
            else (_merged({}, value) if isinstance(value, Mapping) else value)
    return out


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
    error: str | None = None           # an error event inside the stream: its message

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
        name="lakehouse-candidate", path="/v1/chat",
        temperature_path="options.temperature", max_tokens_path="options.num_predict", seed_path="options.seed",
        text_path="message.content", finish_path="done_reason", prompt_tokens_path="prompt_eval_count",
        completion_tokens_path="eval_count", stream_format="ndjson", stream_text_path="message.content",
        stream_finish_path="done_reason"),
    # OpenAI sends usage in a stream only when asked (a last chunk with empty `choices`).
    "openai": ChatProfile(name="openai", path="/v1/chat/completions",
                          stream_extra={"stream_options": {"include_usage": True}}),
    "ollama": ChatProfile(
        name="ollama", path="/api/chat",
        temperature_path="options.temperature", max_tokens_path="options.num_predict", seed_path="options.seed",
        text_path="message.content", finish_path="done_reason", prompt_tokens_path="prompt_eval_count",
        completion_tokens_path="eval_count", stream_format="ndjson", stream_text_path="message.content",
        stream_finish_path="done_reason"),
}
