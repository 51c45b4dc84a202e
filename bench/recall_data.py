# ruff: noqa: E501 (the turns and questions are prose, one phrasing per line)
"""Builds `bench/data/recall.json`, the memory-recall evaluation set: `python -m bench.recall_data`.

Ten people talk to an assistant over many sessions, LoCoMo/LongMemEval-style. Among small
talk, requests for help and near-miss mentions, each says things worth remembering (a pet,
a move, a new job, an allergy, a wedding date, ...), some of which change later. Each person
then gets questions whose evidence turns are known. Phrasings are hand-written, several per
fact and per question, and a seeded RNG combines them, so the file is the same on every run
(`--check` verifies that the committed file is what this script builds).

The questions are written the way a person asks later, not the way they said it: "what
animal do I have at home?" for "we adopted a golden retriever named Biscuit". Each question
records whether it shares a content word with its evidence (`overlap`), so the share of
purely paraphrased questions is measured, not claimed. Kinds: `fact` (a stated fact asked in
other words), `update` (the latest of two facts: only the newer turn is evidence), `previous`
(the older of two facts), `temporal` (a date or duration), `multi` (two evidence turns).

The data set is the project's own, written for it, under the project's licence.
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PATH = Path(__file__).parent / "data" / "recall.json"
SEED = 20240615

# --- the people -------------------------------------------------------------------------
# Values every fact of a person may use; facts draw further values from their own pools.

PERSONAS: list[dict[str, str]] = [
    {
        "name": "Maya",
        "partner": "Ben",
        "partner_role": "boyfriend",
        "kid1": "Lily",
        "kid2": "Sam",
        "sibling": "Clara",
        "sibling_role": "sister",
        "friend": "Jess",
        "boss": "Helen",
        "old_city": "Paris",
        "new_city": "Lisbon",
        "old_company": "Brightline",
        "new_company": "Northwind",
        "new_role": "product designer",
    },
    {
        "name": "Tomás",
        "partner": "Inés",
        "partner_role": "wife",
        "kid1": "Mateo",
        "kid2": "Valentina",
        "sibling": "Diego",
        "sibling_role": "brother",
        "friend": "Rafa",
        "boss": "Gerald",
        "old_city": "Madrid",
        "new_city": "Amsterdam",
        "old_company": "Telvia",
        "new_company": "Booking Labs",
        "new_role": "data engineer",
    },
    {
        "name": "Priya",
        "partner": "Arjun",
        "partner_role": "husband",
        "kid1": "Anika",
        "kid2": "Rohan",
        "sibling": "Meera",
        "sibling_role": "sister",
        "friend": "Kavya",
        "boss": "Martin",
        "old_city": "Bangalore",
        "new_city": "Toronto",
        "old_company": "Infosys",
        "new_company": "Shopify",
        "new_role": "engineering manager",
    },
    {
        "name": "Jonas",
        "partner": "Lena",
        "partner_role": "girlfriend",
        "kid1": "Emil",
        "kid2": "Frieda",
        "sibling": "Lukas",
        "sibling_role": "brother",
        "friend": "Moritz",
        "boss": "Sabine",
        "old_city": "Hamburg",
        "new_city": "Munich",
        "old_company": "Otto Group",
        "new_company": "Celonis",
        "new_role": "solutions architect",
    },
    {
        "name": "Aiko",
        "partner": "Kenji",
        "partner_role": "husband",
        "kid1": "Hana",
        "kid2": "Sora",
        "sibling": "Yuki",
        "sibling_role": "sister",
        "friend": "Mei",
        "boss": "Mr. Tanaka",
        "old_city": "Osaka",
        "new_city": "Sapporo",
        "old_company": "Panasonic",
        "new_company": "Mercari",
        "new_role": "UX researcher",
    },
    {
        "name": "Daniel",
        "partner": "Sophie",
        "partner_role": "fiancée",
        "kid1": "Noah",
        "kid2": "Ella",
        "sibling": "Rachel",
        "sibling_role": "sister",
        "friend": "Marcus",
        "boss": "Carol",
        "old_city": "Chicago",
        "new_city": "Denver",
        "old_company": "Groupon",
        "new_company": "Palantir",
        "new_role": "backend developer",
    },
    {
        "name": "Fatima",
        "partner": "Omar",
        "partner_role": "husband",
        "kid1": "Layla",
        "kid2": "Yusuf",
        "sibling": "Samira",
        "sibling_role": "sister",
        "friend": "Nadia",
        "boss": "Richard",
        "old_city": "Manchester",
        "new_city": "Edinburgh",
        "old_company": "the NHS trust",
        "new_company": "Skyscanner",
        "new_role": "clinical data analyst",
    },
    {
        "name": "Oliver",
        "partner": "Grace",
        "partner_role": "partner",
        "kid1": "Finn",
        "kid2": "Isla",
        "sibling": "Harry",
        "sibling_role": "brother",
        "friend": "Tom",
        "boss": "Priscilla",
        "old_city": "Bristol",
        "new_city": "Copenhagen",
        "old_company": "Dyson",
        "new_company": "Lego",
        "new_role": "mechanical engineer",
    },
    {
        "name": "Lucía",
        "partner": "Pablo",
        "partner_role": "boyfriend",
        "kid1": "Martina",
        "kid2": "Hugo",
        "sibling": "Carmen",
        "sibling_role": "sister",
        "friend": "Elena",
        "boss": "Javier",
        "old_city": "Buenos Aires",
        "new_city": "Barcelona",
        "old_company": "Mercado Libre",
        "new_company": "Glovo",
        "new_role": "marketing lead",
    },
    {
        "name": "Kwame",
        "partner": "Abena",
        "partner_role": "wife",
        "kid1": "Kofi",
        "kid2": "Ama",
        "sibling": "Yaw",
        "sibling_role": "brother",
        "friend": "Kojo",
        "boss": "Linda",
        "old_city": "Accra",
        "new_city": "London",
        "old_company": "MTN",
        "new_company": "Monzo",
        "new_role": "site reliability engineer",
    },
]

# --- the facts --------------------------------------------------------------------------
# A fact: pools of values (one picked per person, different people get different ones when
# the pool allows), its evidence turns (each a list of phrasings; `stage` places it early or
# late in the person's sessions), near-miss turns that are not evidence, and question groups
# (phrasings, the indexes of their evidence turns, kind). Every group becomes one question.


@dataclass(frozen=True)
class Turn:
    phrasings: tuple[str, ...]
    stage: str = "any"  # "early": first half of the sessions, "late": second half


@dataclass(frozen=True)
class Ask:
    phrasings: tuple[str, ...]
    evidence: tuple[int, ...]
    kind: str


@dataclass(frozen=True)
class Fact:
    name: str
    values: tuple[dict[str, str], ...]
    turns: tuple[Turn, ...]
    asks: tuple[Ask, ...]
    near_misses: tuple[str, ...] = ()


def _t(*phrasings: str, stage: str = "any") -> Turn:
    return Turn(phrasings, stage)


def _a(kind: str, evidence: tuple[int, ...], *phrasings: str) -> Ask:
    return Ask(phrasings, evidence, kind)


FACTS: tuple[Fact, ...] = (
    Fact(
        "pet",
        (
            {"breed": "golden retriever", "pet": "Biscuit"},
            {"breed": "beagle", "pet": "Pepper"},
            {"breed": "ginger tabby", "pet": "Mango"},
            {"breed": "border collie", "pet": "Scout"},
            {"breed": "Maine Coon", "pet": "Tofu"},
            {"breed": "dachshund", "pet": "Noodle"},
            {"breed": "rescue greyhound", "pet": "Flash"},
            {"breed": "Siamese kitten", "pet": "Miso"},
            {"breed": "cockapoo", "pet": "Waffles"},
            {"breed": "lop-eared rabbit", "pet": "Nibbles"},
        ),
        (
            _t(
                "We finally adopted a {breed} from the shelter on Saturday and named him {pet}.",
                "Bringing home a {breed} this weekend! The kids already settled on {pet}.",
                "Meet {pet}, our new {breed}, he has already claimed the sofa as his.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What animal do I have at home?",
                "Do I have a pet, and what kind?",
                "What sort of four-legged friend lives with me?",
                "What did we name the animal we adopted?",
            ),
            _a("fact", (0,), "What breed is {pet}?", "What kind of animal is {pet}?"),
        ),
        (
            "My neighbour's dog barked the whole night again, I barely slept.",
            "Are cats or dogs easier to keep in a small flat? Asking for a friend.",
            "Is it true chocolate is poisonous for animals or is that a myth?",
        ),
    ),
    Fact(
        "home",
        ({},),
        (
            _t(
                "Our flat in {old_city} is tiny but the view over the rooftops makes up for it.",
                "Rent in {old_city} went up again, our landlord is unbelievable.",
                "Walking home through {old_city} tonight, the city is gorgeous in the rain.",
                stage="early",
            ),
            _t(
                "The movers finally came and we're settled in {new_city} now, boxes everywhere.",
                "First week living in {new_city}, I still get lost on the trams every day.",
                "We did it, the relocation to {new_city} is done and the new flat has a balcony.",
                stage="late",
            ),
        ),
        (
            _a(
                "update",
                (1,),
                "Which city am I based in these days?",
                "Where do I currently live?",
                "What town is home for me at the moment?",
                "Do I still live in {old_city}?",
            ),
            _a(
                "previous",
                (0,),
                "Where was I living before I moved?",
                "Which city did I leave behind when I relocated?",
                "Which city was our old flat in?",
            ),
        ),
        (
            "Have you ever been to Vienna? Thinking about a weekend there.",
            "What are some neighbourhoods worth visiting in Rome?",
        ),
    ),
    Fact(
        "job",
        ({},),
        (
            _t(
                "Work at {old_company} is crazy this quarter, my team is shipping the billing rewrite.",
                "Another day of back-to-back meetings at {old_company}, I need a holiday.",
                stage="early",
            ),
            _t(
                "Today was my last day at {old_company}, I start at {new_company} as a {new_role} "
                "on Monday!",
                "Signed the offer from {new_company} today, {new_role}, better pay and fully remote "
                "on Fridays.",
                stage="late",
            ),
        ),
        (
            _a(
                "update",
                (1,),
                "Who is my employer now?",
                "Which company am I at these days?",
                "What is my current job title?",
                "Am I still working at {old_company}?",
            ),
            _a(
                "previous",
                (0,),
                "Where was I employed before my job change?",
                "Which firm did I leave?",
            ),
        ),
        (
            "A recruiter messaged me on LinkedIn again, not interested.",
            "How do I ask for a raise without sounding entitled?",
            "Can you help me polish my CV summary?",
        ),
    ),
    Fact(
        "partner",
        ({},),
        (
            _t(
                "{partner} and I have been together six years this spring, time flies.",
                "{partner} surprised me with breakfast in bed this morning, best {partner_role} ever.",
                "My {partner_role} {partner} thinks I work too much, and honestly that's fair.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What's the name of the person I'm in a relationship with?",
                "Who is my significant other?",
                "What is my other half called?",
            ),
        ),
    ),
    Fact(
        "holiday",
        (
            {"place": "Kyoto", "weeks": "two weeks"},
            {"place": "Crete", "weeks": "ten days"},
            {"place": "Iceland", "weeks": "a week"},
            {"place": "the Amalfi coast", "weeks": "twelve days"},
            {"place": "Vietnam", "weeks": "three weeks"},
            {"place": "Lapland", "weeks": "five days"},
            {"place": "Patagonia", "weeks": "two weeks"},
            {"place": "Bali", "weeks": "ten days"},
            {"place": "Morocco", "weeks": "a week"},
            {"place": "Norway's fjords", "weeks": "nine days"},
        ),
        (
            _t(
                "Just got back from {weeks} in {place}, still jet-lagged and already missing it.",
                "Unpacking after {weeks} in {place}. Best trip we've ever taken.",
                "Back at my desk after {weeks} in {place}, reality hits hard.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "Where did I go on vacation recently?",
                "Which destination did I visit on my last trip?",
                "Where did I spend my last time off travelling?",
                "Where did I spend {weeks} recently?",
            ),
            _a(
                "temporal",
                (0,),
                "How long was I away on my most recent getaway?",
                "For how many days was I abroad on that last vacation?",
                "How long was I in {place}?",
            ),
        ),
        (
            "What's a good packing list for a long-haul flight?",
            "Do I need a visa to visit Canada for a conference?",
        ),
    ),
    Fact(
        "next_trip",
        (
            {"dest": "Mexico City", "date": "the 3rd of March"},
            {"dest": "Cape Town", "date": "April 18th"},
            {"dest": "Seoul", "date": "the 9th of May"},
            {"dest": "New Zealand", "date": "December 20th"},
            {"dest": "the Dolomites", "date": "July 6th"},
            {"dest": "Sicily", "date": "the 2nd of June"},
            {"dest": "Montreal", "date": "September 14th"},
            {"dest": "Tbilisi", "date": "the 21st of October"},
            {"dest": "Sri Lanka", "date": "February 11th"},
            {"dest": "the Azores", "date": "August 27th"},
        ),
        (
            _t(
                "Flights to {dest} are booked for {date}, I can't stop looking at the hotel photos.",
                "We leave for {dest} on {date}! Now I just need to survive until then.",
            ),
        ),
        (
            _a(
                "temporal",
                (0,),
                "When does my next vacation start?",
                "What day am I flying out for my upcoming getaway?",
                "On what date do I depart for the next big trip?",
                "When do I leave for {dest}?",
            ),
            _a(
                "fact",
                (0,),
                "Where am I heading for my next holiday?",
                "Which country or city is my upcoming trip to?",
                "Where are my flights booked to?",
            ),
        ),
    ),
    Fact(
        "diet",
        (
            {"diet": "I've been fully vegetarian since New Year and haven't touched meat once."},
            {"diet": "Going vegan was the best decision, no dairy, no eggs, nothing from animals."},
            {"diet": "I'm pescatarian now: fish is fine but no chicken, beef or pork for me."},
            {
                "diet": "The coeliac diagnosis came back positive, so bread and pasta are off limits."
            },
            {"diet": "Cutting out dairy entirely, my stomach can't handle lactose anymore."},
            {"diet": "I stopped eating red meat after that documentary, chicken and fish only."},
            {"diet": "Doing keto since the new year, hardly any carbs at all."},
        ),
        (_t("{diet}", "Quick note for recipes you suggest: {diet_lower}"),),
        (
            _a(
                "fact",
                (0,),
                "Are there foods I avoid?",
                "What should you keep in mind when suggesting meals for me?",
                "What are my eating restrictions?",
                "What food is off limits for me?",
            ),
        ),
        (
            "Can you give me a quick weeknight recipe with whatever is in the fridge?",
            "What wine goes well with a mushroom risotto?",
        ),
    ),
    Fact(
        "allergy",
        (
            {"what": "peanuts", "how": "even a trace of peanuts and my throat closes up"},
            {"what": "shellfish", "how": "one prawn and I end up covered in hives"},
            {"what": "penicillin", "how": "the doctor wrote penicillin in red on my file"},
            {"what": "bee stings", "how": "I have to carry an EpiPen because of bee stings"},
            {"what": "cats", "how": "ten minutes near a cat and my eyes swell shut"},
            {"what": "sesame", "how": "sesame sends me straight to A&E"},
            {"what": "kiwi", "how": "kiwi makes my mouth itch and swell"},
        ),
        (
            _t(
                "Please remember this one: {how}.",
                "Had a scare at the restaurant, {how}, so I have to be careful.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "Do I have any allergies?",
                "Is there anything I react badly to?",
                "What am I allergic to?",
            ),
        ),
        ("Is it normal to sneeze this much in spring or am I getting a cold?",),
    ),
    Fact(
        "wedding",
        (
            {"date": "June 14th"},
            {"date": "the 22nd of August"},
            {"date": "September 7th"},
            {"date": "the 30th of May"},
            {"date": "October 4th"},
            {"date": "the 19th of July"},
        ),
        (
            _t(
                "My {sibling_role} {sibling} is getting married on {date} and I have to give a speech.",
                "{sibling} finally set a date: {date}. I'm in charge of the seating plan, help.",
            ),
        ),
        (
            _a(
                "temporal",
                (0,),
                "When is the wedding in my family?",
                "What date is my sibling tying the knot?",
                "When is {sibling}'s wedding?",
            ),
            _a(
                "fact",
                (0,),
                "Which relative of mine is about to get married?",
                "Whose ceremony am I giving a toast at?",
            ),
        ),
        ("What's a tactful way to decline a wedding invitation from a colleague?",),
    ),
    Fact(
        "hobby",
        (
            {"class": "a pottery class", "result": "my first bowl came out completely lopsided"},
            {"class": "bouldering at the climbing gym", "result": "my forearms are destroyed"},
            {"class": "salsa lessons", "result": "I stepped on my partner's feet all evening"},
            {"class": "a sourdough workshop", "result": "my starter is alive and smells like beer"},
            {"class": "a life drawing course", "result": "my charcoal hands took a day to wash"},
            {"class": "a woodworking course", "result": "I built a wobbly stool but I'm proud"},
            {"class": "a beginners' choir", "result": "apparently I'm a baritone"},
            {"class": "an improv comedy class", "result": "I have never been so embarrassed"},
        ),
        (
            _t(
                "Started {class} on Thursday evenings, {result}.",
                "So I signed up for {class}, first session was last night and {result}.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What new activity have I taken up lately?",
                "What do I do once a week for fun these days?",
                "What have I been learning in my free time recently?",
                "What class did I start on Thursday evenings?",
            ),
        ),
    ),
    Fact(
        "instrument",
        (
            {"line": "Practised the Chopin nocturne for an hour, my left hand is catching up."},
            {"line": "My cello teacher says my bowing is much smoother this month."},
            {"line": "Finally nailed the F barre chord on my acoustic guitar, fingers are raw."},
            {"line": "Dusted off my old saxophone, the neighbours were not impressed."},
            {"line": "Violin lesson went badly, I can't get the vibrato to sound like anything."},
            {"line": "Bought a secondhand drum kit, the garage is now my rehearsal room."},
            {"line": "Working through the ukulele songbook, I can play three songs now."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "Which musical instrument do I play?",
                "What instrument am I practising?",
            ),
        ),
        ("Can you recommend a podcast about music history?",),
    ),
    Fact(
        "kids",
        ({},),
        (
            _t(
                "{kid1} lost a first tooth today and made me promise the tooth fairy would come.",
                "Dropped {kid1} at kindergarten this morning, not even a wave goodbye, I'm crushed.",
            ),
            _t(
                "{kid2} started secondary school this week and is somehow taller than me now.",
                "Parents' evening for {kid2} went fine, the maths teacher is a big fan.",
            ),
        ),
        (
            _a(
                "multi",
                (0, 1),
                "What are my children called?",
                "What are the names of my son and daughter?",
            ),
            _a("fact", (1,), "How is {kid2} getting on at school?", "How old is {kid2} roughly?"),
        ),
        (
            "Any ideas for a rainy-day activity with kids under ten?",
            "How much screen time is reasonable for a teenager?",
        ),
    ),
    Fact(
        "car",
        (
            {"old": "Corolla", "new": "a secondhand Tesla Model 3"},
            {"old": "Golf", "new": "an electric Kia Niro"},
            {"old": "Fiesta", "new": "a Volvo estate"},
            {"old": "Civic", "new": "a Renault Zoe"},
            {"old": "Clio", "new": "a Skoda Octavia"},
            {"old": "Mazda 3", "new": "a Toyota RAV4 hybrid"},
        ),
        (
            _t(
                "The garage says the {old} needs new brakes, another four hundred euros.",
                "The {old} wouldn't start this morning, it's twelve years old and it shows.",
                stage="early",
            ),
            _t(
                "Sold the {old} and picked up {new} yesterday, it's so quiet!",
                "Traded in the {old}; we drive {new} now, still learning the buttons.",
                stage="late",
            ),
        ),
        (
            _a(
                "update",
                (1,),
                "What vehicle do I drive now?",
                "What car do I own at the moment?",
                "Do I still have the {old}?",
            ),
        ),
        ("What's the cheapest way to get from the airport to the city centre?",),
    ),
    Fact(
        "team",
        (
            {"team": "Arsenal", "sport": "the league"},
            {"team": "the Boston Celtics", "sport": "the playoffs"},
            {"team": "Boca Juniors", "sport": "the derby"},
            {"team": "Borussia Dortmund", "sport": "the cup"},
            {"team": "the Chicago Cubs", "sport": "the series"},
            {"team": "Ajax", "sport": "the derby"},
            {"team": "Hearts", "sport": "the derby"},
        ),
        (
            _t(
                "Can't believe {team} lost {sport} in the last minute, I'm done, I'm done.",
                "{team} won! I screamed so loud the neighbours knocked on the wall.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "Which club do I support?",
                "Who do I cheer for in sports?",
                "How did {team} do in their last game?",
            ),
        ),
        ("Explain the offside rule like I'm five.",),
    ),
    Fact(
        "language",
        (
            {"lang": "Spanish"},
            {"lang": "Japanese"},
            {"lang": "Portuguese"},
            {"lang": "Korean"},
            {"lang": "Italian"},
            {"lang": "Dutch"},
            {"lang": "Mandarin"},
            {"lang": "Greek"},
        ),
        (
            _t(
                "Day 60 of my Duolingo streak, but my {lang} is still embarrassing.",
                "Booked an evening course in {lang}, first lesson is on Tuesday.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What language am I studying?",
                "Which tongue am I trying to pick up?",
                "How is my {lang} coming along?",
            ),
        ),
    ),
    Fact(
        "injury",
        (
            {"line": "The physio says the meniscus tear needs another six weeks before I run."},
            {"line": "Sprained my ankle coming down the stairs, it's the size of a grapefruit."},
            {
                "line": "The X-ray shows a hairline fracture in my wrist, so I'm in a cast for a while."
            },
            {"line": "My lower back went out lifting a box, I can barely tie my shoes."},
            {"line": "Tennis elbow again, the doctor told me to rest it for a month."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "What injury am I recovering from?",
                "Did I hurt myself recently?",
                "What's wrong with me physically right now?",
            ),
        ),
        ("How many steps a day is actually healthy?",),
    ),
    Fact(
        "comfort_food",
        (
            {"dish": "a proper bowl of pho"},
            {"dish": "my grandmother's lentil soup"},
            {"dish": "mac and cheese straight from the pan"},
            {"dish": "a big plate of jollof rice"},
            {"dish": "ramen from the place round the corner"},
            {"dish": "dal with rice and a bit of pickle"},
        ),
        (
            _t(
                "Honestly nothing beats {dish} on a cold rainy evening.",
                "Bad day. Fixed it with {dish}, works every time.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What do I like to eat when I'm feeling down?",
                "What's my go-to comfort meal?",
                "What do I eat on a cold rainy evening?",
            ),
        ),
    ),
    Fact(
        "caffeine",
        ({},),
        (
            _t(
                "I need three espressos before I can function, don't talk to me before then.",
                "Third flat white of the morning and it's only ten o'clock.",
                stage="early",
            ),
            _t(
                "Quit caffeine two weeks ago, it's herbal tea only and the headaches are gone.",
                "I've given up the espresso habit completely, rooibos in the morning now.",
                stage="late",
            ),
        ),
        (
            _a(
                "update",
                (1,),
                "Do I still drink coffee?",
                "What do I have in the morning these days, coffee or something else?",
            ),
        ),
        ("What's the difference between a latte and a cappuccino?",),
    ),
    Fact(
        "book",
        (
            {"book": "The Remains of the Day", "author": "Ishiguro"},
            {"book": "Piranesi", "author": "Susanna Clarke"},
            {"book": "Project Hail Mary", "author": "Andy Weir"},
            {"book": "Pachinko", "author": "Min Jin Lee"},
            {"book": "The Overstory", "author": "Richard Powers"},
            {"book": "A Little Life", "author": "Hanya Yanagihara"},
            {"book": "Things Fall Apart", "author": "Chinua Achebe"},
            {"book": "The Shadow of the Wind", "author": "Carlos Ruiz Zafón"},
        ),
        (
            _t(
                "Finished {book} last night, that ending wrecked me.",
                "Stayed up until 2am to get through the last chapters of {book} by {author}.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What novel did I just read?",
                "Which story did I finish recently?",
                "Who wrote the novel I finished lately?",
            ),
            _a("fact", (0,), "What did I think of {book}?"),
        ),
        ("Can you suggest an audiobook for a long drive?",),
    ),
    Fact(
        "friend_birthday",
        (
            {"date": "the 12th of November"},
            {"date": "March 3rd"},
            {"date": "the 25th of January"},
            {"date": "April 30th"},
            {"date": "the 8th of December"},
        ),
        (
            _t(
                "{friend} turns forty on {date}, remind me to order the cake.",
                "Planning a surprise party for {friend}, the big day is {date}.",
            ),
        ),
        (
            _a(
                "temporal",
                (0,),
                "When is {friend}'s birthday?",
                "When should I be celebrating {friend}?",
            ),
        ),
        ("What's a thoughtful present for someone who has everything?",),
    ),
    Fact(
        "boss",
        ({},),
        (
            _t(
                "{boss} wants the quarterly report by Friday, no pressure.",
                "Had my one-to-one with {boss} today, apparently I'm ready to lead a team.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "Who is my manager?",
                "Who do I report to?",
                "Who is waiting for my quarterly report?",
            ),
        ),
        ("How do I give feedback to a colleague who talks over everyone?",),
    ),
    Fact(
        "house",
        (
            {"flaw": "a terrible orange kitchen"},
            {"flaw": "a leaking roof"},
            {"flaw": "wallpaper from the seventies in every room"},
            {"flaw": "a bathroom with no window"},
        ),
        (
            _t(
                "We signed the mortgage papers! The place has a garden and {flaw}.",
                "Keys are ours, we bought the house on the corner, {flaw} included.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "Did we buy property recently?",
                "What is the house we bought like?",
                "What needs fixing first in our new home?",
            ),
        ),
        ("What are the pros and cons of a fixed rate versus a variable rate?",),
    ),
    Fact(
        "race",
        (
            {"race": "half marathon", "date": "October 12th"},
            {"race": "marathon", "date": "the 27th of April"},
            {"race": "Olympic-distance triathlon", "date": "August 3rd"},
            {"race": "10k trail race", "date": "the 16th of September"},
            {"race": "100 km charity cycle", "date": "June 1st"},
        ),
        (
            _t(
                "Registered for the {race} on {date}, training plan starts tomorrow.",
                "Entry confirmed: {race}, {date}. What have I done.",
            ),
        ),
        (
            _a(
                "temporal",
                (0,),
                "When is the endurance event I'm preparing for?",
                "What's the date of my big athletic challenge?",
                "When is my {race}?",
            ),
            _a(
                "fact",
                (0,),
                "What competition am I getting fit for?",
            ),
        ),
        ("Are energy gels actually useful or just marketing?",),
    ),
    Fact(
        "wake_up",
        (
            {"time": "5:30"},
            {"time": "six sharp"},
            {"time": "quarter past five"},
        ),
        (
            _t(
                "I've started waking up at {time} to write before the house is awake.",
                "New routine: alarm at {time}, a run, then work. Day four and I'm surviving.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "What time do I get out of bed in the morning?",
                "How early do I rise?",
                "What time is my alarm set for?",
            ),
        ),
    ),
    Fact(
        "parent_health",
        (
            {
                "line": "Mum's hip surgery went well, she's home and complaining about hospital food."
            },
            {"line": "Dad had his heart bypass on Tuesday, the surgeons say it all went fine."},
            {
                "line": "My mother is out of hospital after the knee replacement, walking with a frame."
            },
            {"line": "Dad's cataract operation worked, he says the colours are brighter."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "How did my parent's operation go?",
                "Was anyone in my family in hospital lately?",
            ),
        ),
    ),
    Fact(
        "commute",
        (
            {
                "line": "Cycling to the office now that the new bike lane is finished, twenty minutes."
            },
            {"line": "The train in is packed every morning, forty minutes standing."},
            {"line": "I walk to the office along the canal now, best part of the day."},
            {"line": "Took the ferry in today, honestly the nicest commute in the world."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "How do I usually get to work?",
                "What is my daily journey in like?",
                "How do I get to the office?",
            ),
        ),
    ),
    Fact(
        "concert",
        (
            {"band": "Radiohead", "month": "November"},
            {"band": "Taylor Swift", "month": "August"},
            {"band": "Burna Boy", "month": "July"},
            {"band": "Arctic Monkeys", "month": "September"},
            {"band": "Rosalía", "month": "October"},
            {"band": "Coldplay", "month": "June"},
        ),
        (
            _t(
                "Got tickets to see {band} at the arena in {month}!!",
                "{band} in {month}, front row standing, I'm going to lose my voice.",
            ),
        ),
        (
            _a(
                "fact",
                (0,),
                "Which gig am I going to?",
                "What live show do I have tickets for?",
            ),
            _a(
                "temporal",
                (0,),
                "In which month is the show I bought tickets for?",
                "When am I seeing {band}?",
            ),
        ),
    ),
    Fact(
        "garden",
        (
            {"line": "The tomatoes on the balcony are finally turning red."},
            {"line": "My chillies have flowers! Five pots of them on the windowsill."},
            {"line": "Harvested the first courgettes from the allotment, way too many."},
            {"line": "The basil and mint in the window boxes are taking over."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "What am I growing?",
                "What plants do I look after?",
            ),
        ),
    ),
    Fact(
        "laptop",
        ({"old": "ThinkPad", "new": "a MacBook Air"}, {"old": "MacBook Pro", "new": "a Framework"}),
        (
            _t(
                "My {old} keeps overheating during video calls, it sounds like a jet engine.",
                stage="early",
            ),
            _t(
                "Switched from the {old} to {new} and I keep pressing the wrong keys.",
                stage="late",
            ),
        ),
        (
            _a(
                "update",
                (1,),
                "Which computer am I using now?",
                "What machine do I work on these days?",
            ),
        ),
    ),
    Fact(
        "volunteer",
        (
            {"line": "Spent Saturday morning at the food bank sorting tins again."},
            {"line": "Walked dogs for the animal shelter this Sunday, exhausting but lovely."},
            {"line": "Coached the under-9s at the local football club on Saturday."},
            {"line": "Did my shift on the crisis helpline last night, heavy but worth it."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "How do I give back to the community?",
                "What unpaid work do I do at weekends?",
                "Where do I volunteer?",
            ),
        ),
    ),
    Fact(
        "anniversary",
        ({"date": "May 9th"}, {"date": "the 2nd of February"}, {"date": "November 21st"}),
        (
            _t(
                "Our tenth anniversary is on {date}, thinking of booking a cabin in the mountains.",
                "{date} will be ten years since {partner} and I got married. Ten!",
            ),
        ),
        (
            _a(
                "temporal",
                (0,),
                "When do {partner} and I celebrate our anniversary?",
                "On what day did I get married?",
                "When is our wedding anniversary?",
            ),
        ),
    ),
    Fact(
        "exercise",
        (
            {"line": "I can't stand gyms, I'd much rather swim lengths at the outdoor pool."},
            {"line": "Yoga three times a week is the only thing keeping my back in one piece."},
            {"line": "Running alone in the park is my therapy, no headphones, just me."},
        ),
        (_t("{line}"),),
        (
            _a(
                "fact",
                (0,),
                "What kind of workout do I prefer?",
                "How do I like to keep fit?",
            ),
        ),
    ),
)

# --- everything else a person says -------------------------------------------------------

SMALL_TALK = (
    "haha fair enough",
    "thanks, that's really helpful!",
    "ok let me think about it",
    "good morning! rainy again here",
    "ugh, mondays",
    "that makes sense, thanks",
    "perfect, exactly what I needed",
    "hmm not quite, can you try again?",
    "lol",
    "can you make it a bit shorter?",
    "now in a more formal tone please",
    "what about for two people?",
    "great, one more thing",
    "never mind, I figured it out",
    "sorry, I got distracted, where were we?",
    "that's hilarious",
    "I'll try that tonight",
    "you're a lifesaver",
    "hi again!",
    "long day. just want to chat for a bit",
    "wait, really? I didn't know that",
    "ok, and the second option?",
    "can you put that in a table?",
    "cool cool cool",
    "I'm so tired today",
    "it's finally sunny, I might go for a walk",
    "goodnight!",
    "brb, someone's at the door",
    "back",
    "interesting, tell me more",
    "that sounds too complicated honestly",
    "yes please",
    "no, the other one",
    "can you double-check that number?",
    "just venting, ignore me",
    "happy friday!",
    "what's the weather usually like in March in the south of France?",
    "give me three more ideas",
    "ok that one is good",
    "can you explain that more simply?",
)

REQUESTS = (
    "Can you help me write a polite email to my landlord about the broken heating?",
    "What's the difference between a Roth IRA and a traditional IRA?",
    "Give me a quick recipe for banana bread without eggs.",
    "How do I convert a pandas column to datetime?",
    "Suggest a name for a fantasy football team.",
    "Summarise the main causes of the First World War in five bullet points.",
    "How long should I boil an egg for a runny yolk?",
    "Write a haiku about the underground at rush hour.",
    "What's a good stretching routine after sitting all day?",
    "Help me plan a budget for the month, I keep overspending on takeaways.",
    "How do I remove a red wine stain from a carpet?",
    "What are some good board games for four adults?",
    "Explain what an API is to someone who isn't technical.",
    "Draft a message cancelling a dentist appointment.",
    "Is it worth getting a standing desk?",
    "What's the capital of Australia? I always forget.",
    "Translate 'where is the train station' into French.",
    "Give me a two-minute breathing exercise for stress.",
    "How often should I water a snake plant?",
    "Write a short thank-you note for a colleague who covered my shift.",
    "What time zone is Singapore in?",
    "How do I unclog a bathroom sink without chemicals?",
    "Recommend a documentary about space.",
    "What's a good way to memorise a presentation?",
    "Help me word a complaint to my internet provider.",
    "How many grams are in a cup of flour?",
    "Explain the rules of cricket briefly.",
    "Write a regex that matches an email address.",
    "How do I politely leave a group chat?",
    "What should I put in a first aid kit for the car?",
    "Ideas for a cheap date night at home?",
    "Why does my sourdough recipe say to autolyse? What does that do?",
    "What's the best way to learn touch typing?",
    "How do I set up two-factor authentication on my email?",
    "Tell me a fun fact about octopuses.",
    "How do I fold a fitted sheet? Be honest, is it even possible?",
    "What's the difference between weather and climate?",
    "Write a birthday message for a coworker I barely know.",
    "How long does cooked rice keep in the fridge?",
    "Can you check the grammar of this: 'Me and him goes to the shop.'",
    "Give me a packing checklist for a weekend of camping.",
    "What's an easy houseplant that survives neglect?",
    "How do I make my phone battery last longer?",
    "Explain compound interest with a simple example.",
    "Suggest some podcasts about history.",
    "What is the plot of Hamlet in three sentences?",
    "How do I negotiate a lower price on a used sofa?",
    "What's a good stir fry sauce I can make from the cupboard?",
    "How do vaccines actually work?",
    "Make me a 20-minute bodyweight workout.",
    "What's the etiquette for tipping in the US?",
    "How do I write a SQL query to count rows per day?",
    "Rewrite this sentence to sound friendlier: 'Send me the file today.'",
    "What is a good gift for a ten-year-old who likes science?",
    "How do I get rid of fruit flies in the kitchen?",
    "What's the best order to watch the Star Wars films?",
    "Any tips for sleeping better when it's hot?",
    "What are the symptoms of burnout?",
    "How do I back up photos from my phone?",
    "What's the difference between baking soda and baking powder?",
    "Help me write a toast for a retirement party.",
    "How do you say thank you in Swahili?",
    "What's a healthy snack for the afternoon slump?",
    "Explain blockchain in one paragraph, no hype.",
    "How do I change a bike tyre?",
    "What's the rule for using 'fewer' versus 'less'?",
    "Can you make a shopping list for tacos for six?",
    "How does a heat pump work?",
    "What's the best way to clean a cast iron pan?",
    "Give me a riddle to tell at dinner.",
    "How do I deal with a noisy upstairs neighbour?",
    "What are good questions to ask at the end of an interview?",
    "Is it better to pay off debt or save first?",
    "Write a limerick about a cat who hates Mondays.",
    "How long does it take to walk five kilometres?",
    "Convert 350 Fahrenheit to Celsius.",
    "Summarise the news about the new EU AI rules.",
    "What should I read if I liked The Hobbit?",
    "How do I stop procrastinating on boring tasks?",
    "What's a good name for a book club?",
)

# life chatter: about the person's own people and places, never the answer to a question
CHATTER = (
    "{partner} is making lasagna tonight, the whole flat smells amazing.",
    "{friend} and I are meeting for lunch tomorrow, it's been ages.",
    "{kid1} wants a birthday party at the trampoline park, send help.",
    "{boss} cancelled the all-hands again.",
    "{sibling} called for an hour, mostly complaining about work.",
    "{partner} and I watched three episodes in a row, no regrets.",
    "Long walk with {friend} on Sunday, we talked about everything.",
    "{kid2} is obsessed with dinosaurs this week.",
    "{partner}'s parents are visiting next weekend, I need to clean.",
    "Family dinner at {sibling}'s, way too much food as usual.",
)

_STOP = set(
    """a about after again all am an and any anyone are as at be been before being big but by
    can could day days did do does doing done for from get go going had has have how i i'm if
    in into is it it's its just kind last like lately me more most my new next now of on once
    one or our out really recent recently right should so some something sort still that the
    their them then there these thing this those time to up us was we were what what's when
    where which who whose why will with would you your""".split()  # noqa: SIM905
)


def _words(text: str) -> set[str]:
    found = set()
    for word in re.findall(r"[\w']+", text.lower()):
        word = word.strip("'")
        word = word.removesuffix("'s")
        if word and word not in _STOP:
            found.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return found


def _fill(template: str, values: dict[str, str]) -> str:
    text = template.format_map(values)
    return text[0].upper() + text[1:] if text[0].islower() else text


@dataclass
class _Person:
    values: dict[str, str]
    sessions: list[list[str]] = field(default_factory=list)


def _values_for(fact: Fact, taken: dict[str, set[int]], rng: random.Random) -> dict[str, str]:
    used = taken.setdefault(fact.name, set())
    free = [i for i in range(len(fact.values)) if i not in used] or list(range(len(fact.values)))
    choice = rng.choice(free)
    used.add(choice)
    values = dict(fact.values[choice])
    if "diet" in values:
        values["diet_lower"] = values["diet"][0].lower() + values["diet"][1:]
    return values


def _person(index: int, persona: dict[str, str], rng: random.Random, taken: dict) -> dict:
    user = f"u{index + 1:02d}"
    session_count = rng.randint(8, 13)
    lengths = [rng.randint(12, 30) for _ in range(session_count)]
    # the facts this person states: 16-21 of them, always the home and the job
    optional = [f for f in FACTS if f.name not in ("home", "job")]
    chosen = [f for f in FACTS if f.name in ("home", "job")]
    chosen += rng.sample(optional, rng.randint(14, 19))
    half = session_count // 2
    slots: list[list[tuple[str, Any]]] = [[] for _ in range(session_count)]
    planned: list[tuple[Fact, dict[str, str], list[tuple[int, int]]]] = []
    for fact in chosen:
        values = {**persona, **_values_for(fact, taken, rng)}
        placed = []
        for position, turn in enumerate(fact.turns):
            if turn.stage == "early":
                session = rng.randrange(0, half)
            elif turn.stage == "late":
                session = rng.randrange(half, session_count)
            else:
                session = rng.randrange(session_count)
            slots[session].append(("evidence", (len(planned), position)))
            placed.append((session, position))
            text = _fill(rng.choice(turn.phrasings), values)
            placed[-1] = (session, position)
            values[f"_turn{position}"] = text
        for miss in fact.near_misses:
            if rng.random() < 0.8:
                slots[rng.randrange(session_count)].append(("text", _fill(miss, values)))
        planned.append((fact, values, placed))
    for template in rng.sample(CHATTER, 7):
        slots[rng.randrange(session_count)].append(("text", _fill(template, persona)))
    # fill each session to its length with requests and small talk, then shuffle within it
    requests = list(REQUESTS)
    rng.shuffle(requests)
    sessions_out = []
    turn_of: dict[tuple[int, int], str] = {}
    start_day = 1 + rng.randrange(60)
    for number, items in enumerate(slots):
        length = max(lengths[number], len(items) + 4)
        while len(items) < length:
            if rng.random() < 0.45 and requests:
                items.append(("text", requests.pop()))
            else:
                items.append(("text", rng.choice(SMALL_TALK)))
        rng.shuffle(items)
        session_id = f"{user}-s{number + 1:02d}"
        turns = []
        for position, (what, payload) in enumerate(items):
            turn_id = f"{session_id}-t{position + 1:02d}"
            if what == "evidence":
                fact_index, turn_index = payload
                text = planned[fact_index][1][f"_turn{turn_index}"]
                turn_of[(fact_index, turn_index)] = turn_id
            else:
                text = payload
            turns.append({"id": turn_id, "text": text})
        day = start_day + number * (5 + rng.randrange(10))
        sessions_out.append({"id": session_id, "day": day, "turns": turns})
    texts = {t["id"]: t["text"] for s in sessions_out for t in s["turns"]}
    questions = []
    for fact_index, (fact, values, _) in enumerate(planned):
        for ask in fact.asks:
            question = _fill(rng.choice(ask.phrasings), values)
            evidence = [turn_of[(fact_index, i)] for i in ask.evidence]
            shared = _words(question) & set().union(*(_words(texts[e]) for e in evidence))
            questions.append(
                {
                    "id": f"{user}-q{len(questions) + 1:02d}",
                    "question": question,
                    "evidence": evidence,
                    "kind": ask.kind,
                    "fact": fact.name,
                    "overlap": sorted(shared),
                }
            )
    return {"id": user, "name": persona["name"], "sessions": sessions_out, "questions": questions}


def build() -> dict[str, Any]:
    rng = random.Random(SEED)
    taken: dict[str, set[int]] = {}
    users = [_person(i, persona, rng, taken) for i, persona in enumerate(PERSONAS)]
    turns = sum(len(s["turns"]) for u in users for s in u["sessions"])
    questions = [q for u in users for q in u["questions"]]
    return {
        "name": "menagerie-recall",
        "version": 1,
        "seed": SEED,
        "built_by": "bench/recall_data.py",
        "summary": {
            "users": len(users),
            "sessions": sum(len(u["sessions"]) for u in users),
            "turns": turns,
            "questions": len(questions),
            "questions_without_shared_word": sum(1 for q in questions if not q["overlap"]),
            "kinds": {
                kind: sum(1 for q in questions if q["kind"] == kind)
                for kind in sorted({q["kind"] for q in questions})
            },
        },
        "users": users,
    }


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str]) -> int:
    text = dump(build())
    if "--check" in argv:
        same = PATH.exists() and PATH.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{PATH} differs from what recall_data.py builds")
        return 0 if same else 1
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH}: {json.dumps(build()['summary'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
