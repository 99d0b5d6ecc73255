"""Builds `longconv_eval.json`: long, dated, two-speaker conversations and labelled questions.

Run `python tests/memory/data/build_longconv.py` to rewrite the JSON (deterministic: a fixed
seed, no network). Five conversations of 20 dated sessions each (every 12-14 days from January,
so they span about eight months), two named speakers per conversation, 400+ turns each. Facts
are stated once, in the first person, among small talk and distractors that share surface
words with the questions (a phone *plan* next to a *vacation plan*, the other speaker's pet
next to this speaker's); recurring topics (what someone is reading, cooking, how work is going)
are updated in several sessions, so only the session date tells them apart.

Questions, each labelled with the ids of its evidence turns:
- `single`: one fact, asked in the question's own words about a named speaker;
- `multi_hop`: needs two turns from different sessions (a sister's new city, then the flight);
- `temporal`: "in May", "before ..." or "when ...": resolved against session dates;
- `paraphrase`: open questions sharing few words with the evidence.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("longconv_eval.json")
SEED = 21
SESSIONS = 20
TURNS_PER_SESSION = 21
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip

CONVERSATIONS = [
    ("Alice", "Bruno"),
    ("Chiara", "Dmitri"),
    ("Esther", "Farid"),
    ("Greta", "Hamish"),
    ("Ingrid", "Jonas"),
]

# Single facts: (statement, direct question, open paraphrase, slot values). `{N}` is the
# speaker's name; other slots are drawn per speaker.
FACTS: list[dict[str, Any]] = [
    {
        "say": "We finally adopted a {pet} from the shelter last weekend, the kids named it "
        "{petname}.",
        "ask": "What did {N}'s kids name the animal from the shelter?",
        "para": "Which new four-legged member joined {N}'s household?",
        "slots": {
            "pet": ["greyhound", "tabby kitten", "beagle puppy", "lop-eared rabbit", "collie"],
            "petname": ["Biscuit", "Pepper", "Juno", "Mango", "Otis", "Clementine"],
        },
    },
    {
        "say": "I signed up for {instrument} lessons on {weekday} evenings with a retired "
        "orchestra player.",
        "ask": "What lessons is {N} taking on {weekday} evenings?",
        "para": "What is {N} learning to play?",
        "slots": {
            "instrument": ["cello", "violin", "trumpet", "clarinet", "piano", "oboe"],
            "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday"],
        },
    },
    {
        "say": "Turns out I'm allergic to {allergen}, the clinic gave me antihistamines.",
        "ask": "What is {N} allergic to?",
        "para": "Which thing makes {N} sneeze and itch?",
        "slots": {"allergen": ["birch pollen", "cats", "dust mites", "ragweed", "horses"]},
    },
    {
        "say": "We sold the old {oldcar} and bought a second-hand {newcar} with low mileage.",
        "ask": "Which car did {N} buy second-hand?",
        "para": "What does {N} drive around in these days?",
        "slots": {
            "oldcar": ["hatchback", "estate", "minivan"],
            "newcar": ["Skoda Octavia", "Toyota Prius", "Volvo V60", "Mazda 3", "Kia Niro"],
        },
    },
    {
        "say": "I accepted the offer from {company}, I'll be their new {jobrole}.",
        "ask": "Which company made {N} an offer that was accepted?",
        "para": "Who is going to employ {N} next?",
        "slots": {
            "company": ["Northwind Logistics", "Helix Biotech", "Bramble Games", "Corvid Labs"],
            "jobrole": ["data analyst", "project lead", "UX researcher", "quality engineer"],
        },
    },
    {
        "say": "We signed the lease on a flat in {district}, two bedrooms and a tiny balcony.",
        "ask": "In which district did {N} sign a lease?",
        "para": "Where is {N} about to live?",
        "slots": {"district": ["Kreuzberg", "Leith", "Montmartre", "Trastevere", "Vesterbro"]},
    },
    {
        "say": "I've gone fully vegetarian, mostly lentils, tofu and a lot of chickpeas now.",
        "ask": "What diet has {N} switched to?",
        "para": "Has {N} given up eating meat?",
        "slots": {},
    },
    {
        "say": "I joined a {club} club that meets in the library every other Sunday.",
        "ask": "Which club did {N} join at the library?",
        "para": "How does {N} spend alternate weekends?",
        "slots": {"club": ["chess", "board game", "sketching", "poetry", "knitting"]},
    },
    {
        "say": "I twisted my {bodypart} playing {sport} and I'm on crutches for two weeks.",
        "ask": "How did {N} twist their {bodypart}?",
        "para": "Why can't {N} walk properly at the moment?",
        "slots": {
            "bodypart": ["ankle", "knee"],
            "sport": ["five-a-side football", "basketball", "squash", "volleyball"],
        },
    },
    {
        "say": "The {veg} in the allotment finally came up, we'll have loads by August.",
        "ask": "What came up in {N}'s allotment?",
        "para": "Which crop is {N} expecting to harvest?",
        "slots": {"veg": ["courgettes", "runner beans", "pumpkins", "beetroot", "broad beans"]},
    },
    {
        "say": "I switched my phone plan to {carrier}, it's half the price of the old one.",
        "ask": "Which carrier did {N} switch the phone plan to?",
        "para": "Who provides {N}'s mobile service now?",
        "slots": {"carrier": ["Lyca", "Giffgaff", "Mint Mobile", "Vodafone", "Iliad"]},
    },
    {
        "say": "Honestly nothing beats {dish}, I could eat it every single day.",
        "ask": "What dish does {N} say nothing beats?",
        "para": "Which meal does {N} never get tired of?",
        "slots": {"dish": ["ramen", "shakshuka", "mushroom risotto", "pierogi", "pad thai"]},
    },
    {
        "say": "I've been practising {language} on the app every morning before my commute.",
        "ask": "What language is {N} practising on the app?",
        "para": "Which foreign tongue is {N} studying?",
        "slots": {"language": ["Portuguese", "Japanese", "Korean", "Greek", "Dutch"]},
    },
    {
        "say": "For my birthday my {relative} gave me a {gift}, I nearly cried.",
        "ask": "What did {N}'s {relative} give for the birthday?",
        "para": "What present did {N} receive recently?",
        "slots": {
            "relative": ["aunt", "grandmother", "brother", "godmother"],
            "gift": ["vintage record player", "hand-knitted scarf", "telescope", "pasta machine"],
        },
    },
    {
        "say": "I get awful migraines whenever I skip breakfast, it's like clockwork.",
        "ask": "Why does {N} get migraines?",
        "para": "What brings on {N}'s bad headaches?",
        "slots": {},
    },
    {
        "say": "I volunteer at the {place} on Saturday mornings now, sorting donations.",
        "ask": "Where does {N} volunteer on Saturday mornings?",
        "para": "What unpaid work does {N} do at weekends?",
        "slots": {"place": ["food bank", "animal shelter", "charity shop", "community fridge"]},
    },
    {
        "say": "I'm terrified of {fear}, always have been since I was little.",
        "ask": "What is {N} terrified of?",
        "para": "What scares {N} the most?",
        "slots": {"fear": ["deep water", "spiders", "heights", "thunderstorms", "wasps"]},
    },
    {
        "say": "I cycle to the office now, it's about {km} kilometres each way along the canal.",
        "ask": "How far does {N} cycle to the office?",
        "para": "How does {N} get to work every day?",
        "slots": {"km": ["six", "eight", "eleven", "fourteen"]},
    },
]

# Two turns of one speaker in different sessions; the question needs both.
MULTI_HOP: list[dict[str, Any]] = [
    {
        "first": "My {sibrel} {sib} just moved to {city} for a new job at the university.",
        "second": "Booked my flights to go and see {sib} at the end of the month, can't wait.",
        "ask": "Which city is {N} flying to for the family visit?",
        "slots": {
            "sibrel": ["sister", "brother", "cousin"],
            "sib": ["Rosa", "Tomas", "Leila", "Piet", "Nadia"],
            "city": ["Porto", "Gothenburg", "Valencia", "Krakow", "Ljubljana"],
        },
    },
    {
        "first": "Our book club picked {book} for next month, it's a chunky one.",
        "second": "Finished the book club pick last night, the ending made me sob.",
        "ask": "Which novel made {N} sob at the end?",
        "slots": {"book": ["Middlemarch", "The Remains of the Day", "Pachinko", "Stoner"]},
    },
    {
        "first": "We hired a builder called {builder} to redo the kitchen, starting next week.",
        "second": "The kitchen is done at last, {colour} cabinets and an oven that actually works.",
        "ask": "What colour did the kitchen that {builder} redid end up?",
        "slots": {
            "builder": ["Marek", "Declan", "Yusuf", "Lorenzo"],
            "colour": ["sage green", "navy blue", "mustard yellow", "dove grey"],
        },
    },
    {
        "first": "My old roommate {friend} is getting married in {city} this summer.",
        "second": "Just back from the wedding, the speeches were hilarious and I danced till two.",
        "ask": "In which city was the wedding {N} danced at until two?",
        "slots": {
            "friend": ["Hugo", "Sanne", "Priya", "Matteo"],
            "city": ["Dubrovnik", "Seville", "Bruges", "Galway"],
        },
    },
    {
        "first": "I entered the {race} in {city}, training starts on Monday.",
        "second": "Crossed the finish line in {time}, my legs are still jelly.",
        "ask": "How long did {N} take to run the {race}?",
        "slots": {
            "race": ["half marathon", "10K charity run", "trail ultra"],
            "city": ["Cardiff", "Lyon", "Utrecht", "Bergen"],
            "time": ["1:52", "2:05", "58 minutes", "5 hours 40"],
        },
    },
]

# Recurring topics: the same speaker updates them in several sessions.
UPDATES: dict[str, dict[str, Any]] = {
    "reading": {
        "say": [
            "I'm reading {v} at the moment, can't put it down.",
            "Started {v} on the train this week, it's gripping so far.",
            "My bedside book right now is {v}.",
        ],
        "values": [
            "Dune",
            "Circe",
            "The Overstory",
            "Normal People",
            "Piranesi",
            "Beloved",
            "Klara and the Sun",
            "The Goldfinch",
            "Hamnet",
            "Wolf Hall",
        ],
        "ask_month": "What book was {N} reading in {M}?",
        "ask_before": "What was {N} reading just before {v}?",
    },
    "cooking": {
        "say": [
            "This week I tried making {v} from scratch, not bad for a first go.",
            "Cooked {v} for everyone on Sunday, it went down well.",
        ],
        "values": [
            "gnocchi",
            "bao buns",
            "beef rendang",
            "sourdough",
            "paella",
            "dumplings",
            "lasagne",
            "moussaka",
            "jollof rice",
            "tarte tatin",
        ],
        "ask_month": "What did {N} cook in {M}?",
        "ask_before": "What did {N} cook just before the {v}?",
    },
    "work": {
        "say": [
            "Work has been {v} lately.",
            "Honestly the office is {v} these days.",
        ],
        "values": [
            "chaos because of the audit",
            "quiet since the merger",
            "all about the product launch",
            "stressful with two people off sick",
            "fun now that we moved floors",
            "a grind with the quarterly reports",
        ],
        "ask_month": "How did {N} say work was going in {M}?",
        "ask_before": None,
    },
}

TRIPS = [
    ("Kyoto", "the temples were unreal and we ate far too much", "Japan"),
    ("Lisbon", "the trams and the custard tarts, what a week", "Portugal"),
    ("Reykjavik", "we saw the northern lights on the last night", "Iceland"),
    ("Marrakesh", "the souks were overwhelming in the best way", "Morocco"),
    ("Oaxaca", "mole every single day and a mezcal tasting", "Mexico"),
    ("Hanoi", "motorbikes everywhere and the best pho of my life", "Vietnam"),
    ("Tbilisi", "the sulphur baths and so much khachapuri", "Georgia"),
]
# A question from the other speaker and a short answer: the answer alone says little.
EXCHANGES: list[dict[str, Any]] = [
    {
        "prompt": "What did you end up calling the new puppy?",
        "reply": "{v}, after my grandad.",
        "ask": "What is the name of {N}'s puppy?",
        "values": ["Archie", "Nellie", "Bodhi", "Wilf", "Tula"],
    },
    {
        "prompt": "So where are you off to this summer?",
        "reply": "{v}, a week of camping by the sea.",
        "ask": "What are {N}'s summer holiday plans?",
        "values": ["Sardinia", "Brittany", "the Algarve", "Cornwall", "Crete"],
    },
    {
        "prompt": "What are you getting your dad for his sixtieth?",
        "reply": "A {v}, he's wanted one for ages.",
        "ask": "What is {N} buying for their father's 60th birthday?",
        "values": ["kayak", "smoker barbecue", "drone", "espresso machine", "metal detector"],
    },
]
TRIP_SAY = "We just got back from {place} with the whole family, {detail}."
TRIP_ASK = [
    "When did {N}'s family travel abroad to {country}?",
    "When was {N} in {country} with the family?",
]

# Turns that share words with the questions but state something else.
DISTRACTORS = [
    "I need to sort out my phone plan, the data runs out every month.",
    "Any plans for the weekend? We might just stay in.",
    "My vacation days reset in April so I should plan something.",
    "The travel mug you gave me leaks all over my bag.",
    "Our neighbours' dog barked all night again.",
    "The kids want to name the goldfish after a footballer.",
    "I keep forgetting the library books are overdue.",
    "Did you see the shelter on the high street is closing?",
    "The car needs new tyres before the winter.",
    "I read an article saying breakfast is overrated.",
    "The office coffee machine is broken again.",
    "We looked at a flat with a balcony but it was tiny.",
    "My cousin keeps sending me photos of his allotment.",
    "I lost my bike lights, cycling home in the dark was scary.",
    "The family group chat is nothing but memes now.",
    "I booked a table for Friday, the Italian place by the river.",
    "My brother is obsessed with that cooking show.",
    "The train was cancelled so I worked from home.",
    "I finally cleaned out the garage, found my old violin case.",
    "Someone at work ran a marathon and won't stop talking about it.",
    "The new job ads all want five years of experience.",
    "My aunt phoned about the birthday party plans.",
    "It's been raining for a week, the garden is a swamp.",
    "I fell asleep on the sofa watching a documentary about Japan.",
    "The kitchen tap is dripping again.",
    "Our wedding anniversary is coming up, I need ideas.",
    "The app keeps logging me out, so annoying.",
    "I saw a spider the size of my hand in the bath.",
    "We're thinking about a trip somewhere warm next year.",
    "I tried a language exchange evening but everyone spoke English.",
    "The school sent home a letter about head lice.",
    "My sister says hi, by the way.",
    "I bought a new mattress and my back is thanking me.",
    "Work drinks on Thursday, are you coming?",
    "I should call the landlord about the heating.",
    "The museum has a free evening on the first Friday of the month.",
    "My phone fell in the sink, it survived somehow.",
    "I watched the football with my dad, we lost again.",
    "There's a new bakery on the corner, the croissants are decent.",
    "I'm trying to drink less coffee, it isn't going well.",
]
SMALL_TALK = [
    "How was your week?",
    "Not bad at all, busy but good.",
    "Ha, that's so you.",
    "Oh no, that sounds rough.",
    "Same here, honestly.",
    "That's brilliant news!",
    "Tell me more.",
    "Really? I had no idea.",
    "Fair enough.",
    "I know what you mean.",
    "Anyway, how are the kids?",
    "Everyone's fine, thanks for asking.",
    "Good for you!",
    "I'll believe it when I see it.",
    "We should catch up properly soon.",
    "Did you watch the match?",
    "Not yet, no spoilers please.",
    "Typical!",
    "Sounds lovely.",
    "Ugh, tell me about it.",
    "That made me laugh.",
    "Wait, seriously?",
    "I'm so tired today.",
    "Me too, the week has been endless.",
    "What's new with you?",
    "Not much, same old.",
    "Let's do that.",
    "Fingers crossed.",
    "Good luck with it!",
    "Thanks, I'll need it.",
    "Hope you feel better.",
    "That's a relief.",
]
GREETINGS = ["Hey, long time!", "Morning!", "Hi there, got a minute?", "Evening!", "Hello!"]
CLOSINGS = ["Right, I have to run.", "Talk soon!", "Catch you later.", "Bye for now!"]


@dataclass
class Planned:
    """A turn to place: who says it, in which session, and which questions it is evidence of."""

    session: int
    speaker: str
    text: str
    labels: list[str] = field(default_factory=list)  # question keys
    prompt: str = ""  # said just before by the other speaker, when the turn answers it


def fill(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def pick_slots(rng: random.Random, slots: dict[str, list[str]]) -> dict[str, str]:
    return {name: rng.choice(options) for name, options in slots.items()}


def build_conversation(
    index: int, speakers: tuple[str, str], rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    cid = f"c{index + 1}"
    start = datetime(2025, 1, 6 + index, 19, 0, tzinfo=UTC)
    dates = []
    day = start
    for _ in range(SESSIONS):
        dates.append(day)
        day += timedelta(days=rng.choice([12, 13, 14]))
    planned: list[Planned] = []
    questions: list[dict[str, Any]] = []

    def question(kind: str, query: str) -> str:
        key = f"{cid}-q{len(questions) + 1:02d}"
        questions.append({"id": key, "conversation": cid, "kind": kind, "query": query})
        return key

    # Single facts and paraphrases: each speaker states some facts; a third of the facts are
    # stated by both (other values), so the speaker's name decides.
    facts = rng.sample(FACTS, len(FACTS))
    for n, fact in enumerate(facts):
        owners = [speakers[n % 2]]
        if n % 3 == 0:
            owners.append(speakers[(n + 1) % 2])
        kind = "single" if n % 2 == 0 else "paraphrase"
        for j, who in enumerate(owners):
            values = {"N": who, **pick_slots(rng, fact["slots"])}
            turn = Planned(rng.randrange(SESSIONS), who, fill(fact["say"], values))
            if j == 0:
                turn.labels.append(
                    question(kind, fill(fact["ask" if kind == "single" else "para"], values))
                )
            planned.append(turn)  # fmt: skip

    # Multi-hop: both turns by one speaker, the second in a later session.
    for n, hop in enumerate(MULTI_HOP):
        who = speakers[(n + index) % 2]
        values = {"N": who, **pick_slots(rng, hop["slots"])}
        first = rng.randrange(SESSIONS - 6)
        second = rng.randrange(first + 2, SESSIONS)
        key = question("multi_hop", fill(hop["ask"], values))
        planned.append(Planned(first, who, fill(hop["first"], values), [key]))
        planned.append(Planned(second, who, fill(hop["second"], values), [key]))

    # Temporal: recurring topics updated by both speakers in sessions of distinct months.
    for spec in UPDATES.values():
        for who in speakers:
            values = rng.sample(spec["values"], 4)
            sessions = sorted(rng.sample(range(SESSIONS), 4))
            months_used: set[int] = set()
            chosen: list[tuple[int, str]] = []
            for s, value in zip(sessions, values, strict=True):
                if dates[s].month in months_used:
                    continue
                months_used.add(dates[s].month)
                chosen.append((s, value))
            turns = []
            for s, value in chosen:
                turns.append(Planned(s, who, rng.choice(spec["say"]).format(v=value)))
            planned.extend(turns)
            # "in <month>" about the last update and, where it exists, "before <value>".
            s, value = chosen[-1]
            month = MONTHS[dates[s].month - 1]
            asked = fill(spec["ask_month"], {"N": who, "M": month})
            turns[-1].labels.append(question("temporal", asked))
            if spec["ask_before"] and len(chosen) >= 3:
                later = chosen[2][1]
                asked = fill(spec["ask_before"], {"N": who, "v": later})
                turns[1].labels.append(question("temporal", asked))

    # Trips: "when" questions name the country, the turn names the city.
    for who, (place, detail, country) in zip(speakers, rng.sample(TRIPS, 2), strict=True):
        key = question("temporal", fill(rng.choice(TRIP_ASK), {"N": who, "country": country}))
        planned.append(
            Planned(
                rng.randrange(SESSIONS), who, TRIP_SAY.format(place=place, detail=detail), [key]
            )
        )

    # Exchanges: the other speaker asks, the speaker answers in a few words.
    for n, exchange in enumerate(EXCHANGES):
        who = speakers[(n + index + 1) % 2]
        value = rng.choice(exchange["values"])
        key = question("single", fill(exchange["ask"], {"N": who}))
        reply = exchange["reply"].format(v=value)
        reply = reply[0].upper() + reply[1:]
        planned.append(Planned(rng.randrange(SESSIONS), who, reply, [key], exchange["prompt"]))

    # Lay out sessions: greeting, planned turns among distractors and small talk, closing.
    turns: list[dict[str, Any]] = []
    evidence: dict[str, list[str]] = {q["id"]: [] for q in questions}
    distractors = rng.sample(DISTRACTORS, len(DISTRACTORS))
    d_next = 0
    for s, date in enumerate(dates):
        mine = [p for p in planned if p.session == s]
        body: list[tuple[str | None, str, list[str]]] = []
        for p in mine:
            if p.prompt:
                body.append((_other(speakers, p.speaker), p.prompt, [f"prompt:{p.speaker}"]))
            body.append((p.speaker, p.text, p.labels))
        n_fill = TURNS_PER_SESSION - 3 - len(body)
        fillers: list[tuple[str | None, str, list[str]]] = []
        for f in range(max(n_fill, 2)):
            if f % 3 == 0:
                fillers.append((None, distractors[d_next % len(distractors)], []))
                d_next += 1
            else:
                fillers.append((None, rng.choice(SMALL_TALK), []))
        mixed: list[tuple[str | None, str, list[str]]] = [*body, *fillers]
        _shuffle_keeping_exchanges(rng, mixed)
        first = speakers[s % 2]
        session_turns = [(first, rng.choice(GREETINGS), [])]
        for speaker, text, labels in mixed:
            previous = session_turns[-1][0]
            session_turns.append((speaker or _other(speakers, previous), text, labels))
        session_turns.append((_other(speakers, session_turns[-1][0]), rng.choice(CLOSINGS), []))
        session_turns.append((_other(speakers, session_turns[-1][0]), rng.choice(CLOSINGS), []))
        for t, (speaker, text, tags) in enumerate(session_turns):
            labels = [tag for tag in tags if not tag.startswith("prompt:")]
            tid = f"{cid}-s{s + 1:02d}-t{t + 1:02d}"
            turns.append({
                "id": tid,
                "conversation": cid,
                "session": f"{cid}-s{s + 1:02d}",
                "time": (date + timedelta(minutes=t)).isoformat(),
                "speaker": speaker,
                "content": text,
            })  # fmt: skip
            for label in labels:
                evidence[label].append(tid)
    for q in questions:
        q["evidence"] = evidence[q["id"]]
    sessions = [
        {"id": f"{cid}-s{s + 1:02d}", "date": d.date().isoformat()} for s, d in enumerate(dates)
    ]
    return sessions, turns, questions


def _shuffle_keeping_exchanges(
    rng: random.Random, items: list[tuple[str | None, str, list[str]]]
) -> None:
    """Shuffle `items`, keeping a prompt directly before the reply that follows it."""
    units: list[list[tuple[str | None, str, list[str]]]] = []
    for item in items:
        if units and units[-1][-1][2][:1] and units[-1][-1][2][0].startswith("prompt:"):
            units[-1].append(item)
        else:
            units.append([item])
    rng.shuffle(units)
    items[:] = [item for unit in units for item in unit]


def _other(speakers: tuple[str, str], who: str) -> str:
    return speakers[1] if who == speakers[0] else speakers[0]


def build() -> dict[str, Any]:
    rng = random.Random(SEED)
    conversations, turns, questions = [], [], []
    for index, pair in enumerate(CONVERSATIONS):
        sessions, conv_turns, conv_questions = build_conversation(index, pair, rng)
        conversations.append({"id": f"c{index + 1}", "speakers": list(pair), "sessions": sessions})
        turns.extend(conv_turns)
        questions.extend(conv_questions)
    return {
        "description": (__doc__ or "").strip().splitlines()[0],
        "conversations": conversations,
        "turns": turns,
        "questions": questions,
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
