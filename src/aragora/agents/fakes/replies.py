"""Replies a small base model gives to a debate prompt, as scripts for a
:class:`~aragora.agents.fakes.servers.FakeProvider` (each is a function of the request)::

    FakeProvider.llama_cpp(echo_template)

Each is modelled on what Gemma 3 270M (a base model) answered through llama-cpp-python:
the reply format echoed with its placeholders, chat-template tokens, an answer followed by
questions of its own, the task given back as the answer.
"""

from __future__ import annotations

import re

from aragora.agents.fakes.servers import Answer, FakeRequest

__all__ = ["echo_template", "repeats_task", "runs_on", "template_junk"]

_TASK = re.compile(r"^Task:\n(.*?)\n", re.S)


def _task(request: FakeRequest) -> str:
    found = _TASK.search(request.prompt)
    return found.group(1).strip() if found else request.prompt.strip().splitlines()[0]


def echo_template(request: FakeRequest) -> Answer:
    """Replies with the prompt's own reply format, placeholders and all (``ANSWER: <your
    answer on one line: …>``), or its last line when it shows none."""
    prompt = request.prompt
    _, marker, form = prompt.partition("Reply in exactly this format:\n")
    text = form.strip() if marker else prompt.strip().splitlines()[-1]
    return Answer(text)


def template_junk(request: FakeRequest) -> Answer:
    """Replies in chat-template debris: a turn marker, an answer glued to an end-of-turn
    token, then the template of another model's system prompt."""
    words = _task(request).split()
    return Answer(
        f"<start_of_turn>model\nANSWER: {words[-1] if words else '4'}<end_of_turn>\n"
        f"<<SYS>>\n{request.system}\n<</SYS>>\n\n[INST] {_task(request)} [/INST]"
    )


def runs_on(request: FakeRequest) -> Answer:
    """Answers, then goes on with questions of its own and their answers."""
    return Answer(
        "ANSWER: Yes\nCONFIDENCE: 0.9\nREASONING: It is.\n\n"
        f"Question 1: {_task(request)}\nANSWER: No\nCONFIDENCE: 1.0\n\n"
        "Question 2: What is the capital of France?\nANSWER: Paris\nCONFIDENCE: 1.0\n\n"
        "Question 3:"
    )


def repeats_task(request: FakeRequest) -> Answer:
    """Gives the task itself as its answer and its reasoning."""
    task = _task(request)
    return Answer(f"ANSWER: {task}\nCONFIDENCE: 1\nREASONING: {task}")
