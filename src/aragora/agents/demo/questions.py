"""What kind of question a demo agent is answering, and the plausible answers to it.

:func:`analyse` sorts a task into one of four kinds, each with its candidate answers:

- ``arithmetic`` — "What is 17 * 23?": evaluated safely from the syntax tree (never
  ``eval``), with a few near misses a careless persona might give;
- ``choice`` — "Should a five-person startup run PostgreSQL or SQLite?": the alternatives;
- ``yesno`` — "Should/Is/Can/Do ... ?": Yes, No, It depends;
- ``open`` — anything else: a few generic stances built from the task's key phrase.

Heuristics only: the demo needs answers that read plausibly, not understanding.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["YESNO_OPTIONS", "Question", "analyse", "normalise"]

YESNO_OPTIONS = ("Yes", "No", "It depends")
_YESNO_REASONS = (
    "The benefits of {topic} outweigh the costs here, provided someone owns the follow-through.",
    "The case for {topic} is weaker than it looks: costs land first, gains are speculative.",
    "It turns on scale, budget and timing; {topic} is right in some situations and a distraction "
    "in others.",
)
_OPEN_STANCES = (  # (answer, why), {topic} filled in
    (
        "Start small with {topic}, measure, then expand",
        "A reversible pilot on {topic} teaches more than a long plan, and it keeps options open.",
    ),
    (
        "Hold off on {topic} until the main risks are checked",
        "The risks around {topic} are cheap to check now and expensive to discover later.",
    ),
    (
        "Commit fully to {topic} now and iterate fast",
        "Half-measures on {topic} tend to collect the costs without the benefits.",
    ),
    (
        "Set success criteria for {topic} first, then decide",
        "Without a baseline for {topic}, any decision is a guess dressed up as a plan.",
    ),
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_AUX = _words(
    "should shall can could would will do does did is are was were has have had must may might"
)
_PRONOUNS = _words("i we you they he she it one someone everyone anyone us me them")
_DETS = _words("a an the our my your their his her its this that these those some any")
_PREPS = _words("to for in on at with of by from between about into as than via per over under")
_VERBS = _words(
    "use using run adopt choose pick keep stick stay switch move migrate go build buy rent "
    "rewrite hire outsource raise bootstrap launch wait delay ship refactor invest sell hold "
    "focus expand start stop continue learn write deploy host self-host lease train fine-tune "
    "prioritize prioritise spend save pay make get take do be become need want try implement "
    "replace handle improve reduce increase add remove support prefer consider"
)
_FILLER = _words(
    "what which how why when where who whom whose or and not no yes better best worse good "
    "right ideal way approach option options more less most least fewer really actually also "
    "just still even instead rather either first now today here there ever always never"
)
_BOUNDARY = _AUX | _PRONOUNS | _DETS | _PREPS | _VERBS | _FILLER
_TRAILERS = _PREPS | _words(
    "better worse best first now today here instead when if given since because more less fewer"
)
_CONNECTORS = _words("of in for on with and")
_ARTICLES = _words("a an the our my your their")
_ARITH_LEAD = re.compile(
    r"^\s*(what\s+is|what's|whats|how\s+much\s+is|compute|calculate|evaluate)\b", re.I
)
_WORD_OPS = (
    (r"\bmultiplied\s+by\b", "*"),
    (r"\btimes\b", "*"),
    (r"\bdivided\s+by\b", "/"),
    (r"\bplus\b", "+"),
    (r"\bminus\b", "-"),
    (r"(?<=\d)\s*[x×]\s*(?=[\d(])", "*"),
    ("÷", "/"),
    (r"\^", "**"),
)
_BINOPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_LIMIT = 10**15  # beyond this the demo declines to be a calculator


@dataclass(frozen=True, slots=True)
class Question:
    """A task as a demo agent understands it. ``options`` are the candidate answers
    (for arithmetic: the right one, ``value``, then near misses); ``reasons``, when not
    empty, give one sentence in support of each option."""

    text: str
    kind: str
    options: tuple[str, ...]
    topic: str
    expr: str = ""
    reasons: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        """The correct result of an arithmetic question ("" for other kinds)."""
        return self.options[0] if self.kind == "arithmetic" else ""


def normalise(answer: str) -> str:
    """The form answers are compared in: case, spacing and end punctuation ignored."""
    return " ".join(answer.casefold().split()).strip(" .!?'\"`")


@functools.lru_cache(maxsize=512)
def analyse(task: str) -> Question:
    """Classify ``task`` and list the answers a demo persona could plausibly give."""
    asked = re.findall(r"[^.?!\n]*\?", task)
    sentence = (asked[-1] if asked else task.strip().split("\n")[0])[:500].strip()
    body = sentence.rstrip(" ?.!")
    arithmetic = _arithmetic(sentence)
    if arithmetic is not None:
        expr, value = arithmetic
        return Question(task, "arithmetic", (value, *_near_misses(value)), "the calculation", expr)
    options = _alternatives(body)
    if options:
        excluded = {w.casefold() for o in options for w in o.split()}
        return Question(task, "choice", options, _topic(body, excluded, "the team"))
    topic = _topic(body, set(), "this")
    first = body.split(maxsplit=1)[0].casefold() if body else ""
    if first in _AUX:
        reasons = tuple(r.format(topic=topic) for r in _YESNO_REASONS)
        return Question(task, "yesno", YESNO_OPTIONS, topic, reasons=reasons)
    answers, reasons = zip(
        *((a.format(topic=topic), r.format(topic=topic)) for a, r in _OPEN_STANCES), strict=True
    )
    return Question(task, "open", answers, topic, reasons=reasons)


# -- arithmetic -------------------------------------------------------------------------------


def _arithmetic(sentence: str) -> tuple[str, str] | None:
    plain = sentence.strip().rstrip("?.!= ").strip()
    for pattern, replacement in _WORD_OPS:
        plain = re.sub(pattern, replacement, plain, flags=re.I)
    spans = [" ".join(m.group().split()) for m in re.finditer(r"[\d.\s()+\-*/%]+", plain)]
    for expr in sorted(spans, key=len, reverse=True):
        if not re.search(r"\d", expr) or len(expr) > 120:
            continue
        if not (_ARITH_LEAD.match(sentence) or expr == " ".join(plain.split())):
            continue
        try:
            tree = ast.parse(expr, mode="eval")
            if not any(isinstance(node, ast.BinOp) for node in ast.walk(tree)):
                continue
            return expr, _format_number(_evaluate(tree.body))
        except ZeroDivisionError:
            return expr, "Undefined"
        except (SyntaxError, ValueError, TypeError, OverflowError, RecursionError):
            continue
    return None


def _evaluate(node: ast.expr) -> float:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _evaluate(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise ValueError("power too large")
        result = _BINOPS[type(node.op)](left, right)
        if not isinstance(result, int | float) or abs(result) > _LIMIT:
            raise ValueError("result out of range")
        return result
    raise ValueError("not arithmetic")


def _format_number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() else f"{value:.10g}"


def _near_misses(value: str) -> tuple[str, ...]:
    if value == "Undefined":
        return ()
    number = float(value) if "." in value or "e" in value else int(value)
    return tuple(_format_number(number + delta) for delta in (1, -1, 10, -10))


# -- alternatives and key phrases --------------------------------------------------------------


def _alternatives(body: str) -> tuple[str, ...]:
    splits = list(re.finditer(r"\s+or\s+", body, flags=re.I))
    if not splits:
        return ()
    left, right = body[: splits[-1].start()], body[splits[-1].end() :]
    right_words = re.split(r"[,;:]", right)[0].split()
    if not right_words or right_words[0].casefold() in ("not", "no", "otherwise", "else"):
        return ()
    if right_words[0].casefold() in _VERBS:  # "rewrite it in Go or keep it in Python"
        left_words = left.split()
        start = next((i for i, w in enumerate(left_words) if w.casefold() in _VERBS), None)
        if start is None:
            return ()
        options = [" ".join(left_words[start:]), " ".join(right_words)]
    else:  # "PostgreSQL or SQLite for a startup", "React, Vue or Svelte"
        cut = next((i for i, w in enumerate(right_words) if w.casefold() in _TRAILERS), None)
        right_words = right_words[:cut]
        head, *middle = left.rsplit(":", 1)[-1].split(",")
        run: list[str] = []
        for word in reversed(head.split()):
            if word.casefold() in _BOUNDARY:
                break
            run.insert(0, word)
        options = [" ".join(run), *middle, " ".join(right_words)]
    cleaned = [_clean_option(o) for o in options if o.strip()]
    distinct = {normalise(o) for o in cleaned}
    if not 2 <= len(cleaned) <= 5 or len(distinct) != len(cleaned) or "" in distinct:
        return ()
    if any(len(o.split()) > 8 for o in cleaned):
        return ()
    return tuple(cleaned)


def _clean_option(option: str) -> str:
    words = option.strip(" \"'`.,;").split()
    while words and words[0].casefold() in ("a", "an", "the", "either"):
        words = words[1:]
    text = " ".join(words)
    first = text.split(maxsplit=1)[0] if text else ""
    return text[:1].upper() + text[1:] if first.islower() else text


def _topic(body: str, excluded: set[str], fallback: str) -> str:
    """The task's key noun phrase: the longest run of content words (first on ties)."""
    tokens = [t.rstrip(".'") for t in re.findall(r"[A-Za-z0-9][\w+#.'/-]*", body)]

    def content(token: str) -> bool:
        key = token.casefold()
        return key not in _BOUNDARY and key not in excluded

    best: Sequence[int] = ()
    i = 0
    while i < len(tokens):
        if not content(tokens[i]):
            i += 1
            continue
        run = [i]
        j = i + 1
        while j < len(tokens):
            if content(tokens[j]):
                run.append(j)
            elif not (
                tokens[j].casefold() in _CONNECTORS
                and j + 1 < len(tokens)
                and content(tokens[j + 1])
            ):
                break
            j += 1
        if len(run) > len([k for k in best if content(tokens[k])]):
            best = range(run[0], run[-1] + 1)
        i = j
    if not best:
        return fallback
    start = best[0] - 1 if best[0] > 0 and tokens[best[0] - 1].casefold() in _ARTICLES else best[0]
    words = tokens[start : best[-1] + 1]
    return " ".join(words[:6])
