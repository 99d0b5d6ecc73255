"""Every provider type (openai, anthropic, ollama) against a fake server speaking its wire
format: replies, streaming, tool calls in both directions, and what each request carries."""

from __future__ import annotations

import json
from typing import Literal

from fakes.llm_servers import FakeLLMServer, Reply, ToolCall
from provider_helpers import TEST_KEY, Connect, Vendor

from llmspell.runtime.providers import ChatRequest, Message, ToolCallRequest, ToolSpec

ADD = ToolSpec(
    "calc.add",  # a dot: not allowed on the wire, so it is renamed there and back
    "Add two numbers",
    {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
WEATHER = ToolSpec("weather", "The weather in a city", {"type": "object", "properties": {}})


def ask(
    text: str,
    *,
    tools: tuple[ToolSpec, ...] = (),
    tool_choice: Literal["auto", "none"] = "auto",
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> ChatRequest:
    return ChatRequest(
        model="fake-small",
        messages=(Message("system", "Be brief."), Message("user", text)),
        tools=tools,
        tool_choice=tool_choice,
        temperature=temperature,
        max_tokens=max_tokens,
    )


def test_a_plain_reply_comes_back_with_its_usage_and_the_key_was_sent(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    fake_llm.script(Reply("Paris is the capital.", prompt_tokens=21, completion_tokens=4))
    response = c.manager.call(c.provider, ask("Capital of France?"))
    assert response.text == "Paris is the capital."
    assert response.tool_calls == ()
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (21, 4)
    assert (response.finish_reason, response.model) == ("stop", "fake-small")
    (sent,) = fake_llm.chat_requests
    assert sent.api == vendor.api and not sent.stream
    assert vendor.sent_key(sent.headers) == TEST_KEY
    assert vendor.sent_system(sent.body) == "Be brief."
    assert sent.body["messages"][-1] == {"role": "user", "content": "Capital of France?"}


def test_a_streamed_reply_arrives_piece_by_piece_in_order(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    fake_llm.script(Reply("one two three four five", piece_delay_s=0.01, completion_tokens=5))
    pieces: list[str] = []
    response = c.manager.call(c.provider, ask("Count to five"), on_text=pieces.append)
    assert pieces == ["one ", "two ", "three ", "four ", "five"]
    assert response.text == "".join(pieces)
    assert response.usage.completion_tokens == 5  # from the stream's last event
    (sent,) = fake_llm.chat_requests
    assert sent.stream
    if vendor.api == "openai":
        assert sent.body["stream_options"] == {"include_usage": True}


def test_a_tool_call_round_trip_sends_the_call_and_its_results_in_the_vendor_shape(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    fake_llm.script(
        Reply(
            "Let me look.",
            tool_calls=[
                ToolCall("calc_add", {"a": 1, "b": 2}, id="call-a"),
                ToolCall("weather", {}, id="call-w"),
            ],
        ),
        Reply("1 + 2 = 3; the weather is unknown."),
    )
    first = ask("What is 1 + 2, and the weather?", tools=(ADD, WEATHER))
    asked = c.manager.call(c.provider, first)
    assert asked.finish_reason == "tool_calls"
    assert asked.text == "Let me look."
    assert asked.tool_calls == (
        ToolCallRequest(id="call-a", name="calc.add", arguments={"a": 1, "b": 2}),
        ToolCallRequest(id="call-w", name="weather", arguments={}),
    )

    second = ChatRequest(
        model="fake-small",
        messages=(
            *first.messages,
            Message("assistant", asked.text, tool_calls=asked.tool_calls),
            Message("tool", "3", tool_call_id="call-a", name="calc.add"),
            Message(
                "tool", "no weather service", tool_call_id="call-w", name="weather", is_error=True
            ),
        ),
        tools=first.tools,
    )
    final = c.manager.call(c.provider, second)
    assert final.text == "1 + 2 = 3; the weather is unknown."
    assert final.finish_reason == "stop"

    offered, answered = (r.body for r in fake_llm.chat_requests)
    names = [
        t["function"]["name"] if vendor.api == "openai" else t["name"] for t in offered["tools"]
    ]
    assert names == ["calc_add", "weather"]
    assert vendor.sent_tool_calls(answered) == [
        ("call-a", "calc_add", {"a": 1, "b": 2}),
        ("call-w", "weather", {}),
    ]
    results = vendor.sent_tool_results(answered)
    if vendor.api == "anthropic":
        assert results == [("call-a", "3", False), ("call-w", "no weather service", True)]
    else:  # the Chat Completions API has no error flag on a tool result
        assert results == [("call-a", "3", False), ("call-w", "no weather service", False)]
    assert "tool_choice" not in answered


def test_streamed_tool_calls_are_put_together_from_their_pieces(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    city = {"city": "San Francisco, California", "units": "metric", "days": [1, 2, 3]}
    fake_llm.script(
        Reply(
            "Checking.",
            tool_calls=[
                ToolCall("weather", city, id="t1"),
                ToolCall("calc_add", {"a": 5, "b": 6}, id="t2"),
            ],
        )
    )
    pieces: list[str] = []
    response = c.manager.call(
        c.provider, ask("Weather?", tools=(WEATHER, ADD)), on_text=pieces.append
    )
    assert "".join(pieces) == response.text == "Checking."
    assert response.tool_calls == (
        ToolCallRequest(id="t1", name="weather", arguments=city),
        ToolCallRequest(id="t2", name="calc.add", arguments={"a": 5, "b": 6}),
    )
    assert response.finish_reason == "tool_calls"


def test_arguments_that_are_not_a_json_object_are_kept_as_invalid_arguments(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    broken = '{"a": 1, "b":'
    fake_llm.script(
        Reply(tool_calls=[ToolCall("calc_add", broken, id="x1")]),
        Reply(tool_calls=[ToolCall("calc_add", "[1, 2]", id="x2")]),
    )
    streamed = c.manager.call(c.provider, ask("add", tools=(ADD,)), on_text=lambda _: None)
    assert streamed.tool_calls == (
        ToolCallRequest(id="x1", name="calc.add", arguments={}, invalid_arguments=broken),
    )
    plain = c.manager.call(c.provider, ask("add", tools=(ADD,)))
    assert plain.tool_calls[0].invalid_arguments == "[1, 2]"
    assert plain.tool_calls[0].arguments == {}

    # sent back in the next request, the broken call carries no arguments rather than bad JSON
    again = ask("add", tools=(ADD,))
    history = (*again.messages, Message("assistant", "", tool_calls=streamed.tool_calls))
    fake_llm.script(Reply("ok"))
    c.manager.call(
        c.provider,
        ChatRequest(
            model="fake-small",
            messages=(*history, Message("tool", "bad arguments", tool_call_id="x1", is_error=True)),
            tools=(ADD,),
        ),
    )
    assert vendor.sent_tool_calls(fake_llm.chat_requests[-1].body) == [("x1", "calc_add", {})]


def test_tool_choice_none_asks_for_text_although_tools_are_listed(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    c.manager.call(c.provider, ask("Just answer", tools=(ADD,), tool_choice="none"))
    c.manager.call(c.provider, ask("No tools at all"))
    with_tools, without = (r.body for r in fake_llm.chat_requests)
    assert with_tools["tool_choice"] == ("none" if vendor.api == "openai" else {"type": "none"})
    assert "tool_choice" not in without and "tools" not in without


def test_the_reply_limit_is_sent_and_a_cut_reply_says_length(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    cut = "length" if vendor.api == "openai" else "max_tokens"
    fake_llm.script(Reply("Once upon a", finish_reason=cut), Reply("Hi"))
    response = c.manager.call(c.provider, ask("A story", max_tokens=3, temperature=0.2))
    assert response.finish_reason == "length"
    c.manager.call(c.provider, ask("Hello"))
    limited, unlimited = (r.body for r in fake_llm.chat_requests)
    if vendor.api == "openai":
        # compatible servers (vLLM, Ollama, LM Studio) know max_tokens
        assert (limited["max_tokens"], limited["temperature"]) == (3, 0.2)
        assert "max_tokens" not in unlimited and "temperature" not in unlimited
    else:
        assert limited["max_tokens"] == 3
        assert unlimited["max_tokens"] == 4096  # the API requires one


def test_anthropic_gets_every_system_message_as_its_system_prompt(
    connect: Connect, fake_llm: FakeLLMServer
) -> None:
    from provider_helpers import VENDORS

    anthropic = next(v for v in VENDORS if v.type == "anthropic")
    c = connect(anthropic)
    request = ChatRequest(
        model="fake-small",
        messages=(
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", ""),  # an empty turn: the API refuses those
            Message("system", "Answer in French."),
            Message("user", "Bye"),
        ),
    )
    c.manager.call(c.provider, request)
    (sent,) = fake_llm.chat_requests
    assert sent.body["system"] == "Be brief.\n\nAnswer in French."
    assert sent.body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": "Bye"},
    ]


def test_concurrent_calls_share_the_provider_and_get_their_own_replies(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    fake_llm.latency_s = 0.3
    calls = [c.manager.start(c.provider, ask(f"question {i}"), stream=i % 2 == 0) for i in range(4)]
    texts = [call.wait() for call in calls]
    assert [t.text for t in texts] == ["OK"] * 4
    questions = sorted(json.dumps(r.body["messages"][-1]) for r in fake_llm.chat_requests)
    assert len(questions) == 4 and len(set(questions)) == 4
