"""Build the everyday-question pool for honesty persona generation.

Writes `everyday_questions.csv` (columns qid, question, category, origin) next to
this file. The pool is the hand-written list below followed by a few templates
filled over fixed slot values; the output is deterministic (same order, same
qids on every run).

The questions are prompts for a base chat model running under an honest or a
dishonest persona system prompt (`data/personas/honesty.yaml`); each is chosen
so that an honest and a dishonest assistant would answer it differently.
Evaluation uses Daily Dilemmas, so the pool must not contain Daily Dilemmas
items: `check_dilemma_overlap` compares every question with every dilemma
situation, basic situation and action, and the script exits non-zero if any
question shares a word 8-gram with them or has token Jaccard >= 0.5 with any
situation or action.

Usage (from the repository root):
    .venv/bin/python data/questions/build_questions.py [--dilemmas PATH]

The dilemma table defaults to data/daily_dilemmas/dilemmas_with_detail_by_action.csv
in the repository (falling back to ../shared/data/daily_dilemmas/ next to the
repository), or the path in $WSTEER_DAILY_DILEMMAS. A missing table is an error.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
OUT_CSV = HERE / "everyday_questions.csv"
_DD_NAME = "dilemmas_with_detail_by_action.csv"
# The repository's copy (data/daily_dilemmas/), else the shared folder it was copied from.
DEFAULT_DILEMMAS = next(
    (p for p in (REPO_ROOT / "data" / "daily_dilemmas" / _DD_NAME,
                 REPO_ROOT.parent / "shared" / "data" / "daily_dilemmas" / _DD_NAME) if p.is_file()),
    REPO_ROOT / "data" / "daily_dilemmas" / _DD_NAME,
)

MIN_QUESTIONS = 400
MAX_CHARS = 200
NGRAM = 8
MAX_JACCARD = 0.5
# Two questions not filled from the same template must have token Jaccard below this.
MAX_POOL_JACCARD = 0.7

# ---------------------------------------------------------------------------
# Hand-written questions, by category (origin = "written").
# ---------------------------------------------------------------------------
WRITTEN: dict[str, list[str]] = {
    "facts": [
        "How many planets are in our solar system?",
        'Who wrote "Pride and Prejudice"?',
        "At what temperature does water boil at the top of Mount Everest?",
        "Is a tomato a fruit or a vegetable?",
        "Which is bigger, the Pacific Ocean or the Atlantic?",
        "How long does sunlight take to reach the Earth?",
        "What year did the Berlin Wall fall?",
        "Is Pluto still counted as a planet?",
        "How many bones does an adult human have?",
        "Who painted the ceiling of the Sistine Chapel?",
        "What is the chemical formula for table salt?",
        "Is a whale a kind of fish?",
        "What is the longest river in the world?",
        "Which country has the largest population right now?",
        "Roughly how far away is the Moon?",
        "How fast does sound travel through air?",
        "Are peanuts really nuts?",
        "Who was the first woman to win a Nobel Prize?",
        "What language do most people in Brazil speak?",
        "How many hearts does an octopus have?",
        "Greenland looks huge on my map. Is it bigger than Africa?",
        "When did the Titanic sink?",
        "What is the smallest prime number?",
        "What's 17 times 24?",
        "Is zero an even number?",
        "Quick one: is 0.999 repeating exactly equal to 1?",
        "Are there really more stars in the universe than grains of sand on Earth?",
        "Which is older, the Roman Empire or the Great Pyramid of Giza?",
        "Which metal is liquid at room temperature?",
        "Who invented the telephone?",
        "How many time zones does China use?",
        "My son says Mount Everest is in Switzerland. I said Nepal. Which of us is right?",
        "My daughter wrote on her homework that there are seven continents, but her friend says there are six. Which answer is right?",
    ],
    "health": [
        "Is it safe to drink water from a mountain stream without boiling it?",
        "Can I take ibuprofen and paracetamol at the same time?",
        "Is it okay to stop taking my antibiotics as soon as I feel better?",
        'Does "feed a cold, starve a fever" actually work?',
        "A mole on my arm has changed shape over the last month. Is that something to worry about?",
        "Can I treat my diabetes with cinnamon instead of my prescribed medication?",
        "Is it safe to eat chicken that's still a little pink in the middle?",
        "I've had chest pain on and off for two days. Can I just wait it out?",
        "Do I really need sunscreen on cloudy days?",
        "Is sleeping five hours a night bad for me if I feel fine?",
        "Can essential oils cure an ear infection?",
        "Is raw milk healthier than pasteurised milk?",
        "How much water do I actually need to drink each day?",
        "Does a juice cleanse really detox your body?",
        "Can the flu vaccine give you the flu?",
        "Will a glass of red wine every evening make me healthier?",
        "Is it safe to eat cooked rice that was left out on the counter overnight?",
        "Are e-cigarettes completely harmless?",
        "Can I make up for lost sleep by sleeping in at the weekend?",
        "Is it okay to give honey to my six-month-old baby?",
        "Does cracking my back damage my spine?",
        "My blood pressure readings look normal now. Can I stop my medication on my own?",
        "Can stress really turn your hair grey?",
        "Does eating fat make you fat?",
        "I feel fine, so do I still need the second dose of my vaccine?",
        "How can I tell whether my headache is a migraine or something more serious?",
        "My tooth only hurts now and then. Do I really need to see a dentist?",
        "I have a red, itchy rash that is spreading. Can you tell me from that description whether it's serious?",
        "Are sunbeds a safe way to get vitamin D in winter?",
        "Can I get enough protein on a vegan diet?",
        "I've felt dizzy every morning for a week, and a website says it's just dehydration. Can I trust that, or should I see someone?",
    ],
    "money": [
        "Is it a good idea to put all my savings into one stock my friend recommends?",
        "Can I get rich quickly by day trading?",
        "My bank pays 2% interest a year, and a website promises 20% a month. Which should I choose?",
        "Is it smart to take out a payday loan to pay off my credit card?",
        "Should I pay off my student loan early or invest the money instead?",
        "Is buying a house always better than renting?",
        "Are gold coins a safe investment that never loses value?",
        "A message says I won a prize but must pay a small fee to claim it. Is that legit?",
        "How much should I have saved for retirement by the time I'm 40?",
        "Do index funds usually beat actively managed funds over the long run?",
        "Do lottery tickets ever make financial sense?",
        "With a credit score of 580, can I still get a mortgage at a good rate?",
        "Is it risky to lend my brother a large sum without writing anything down?",
        "Can I claim my beach holiday as a business expense because I answered a few work emails?",
        "Is it okay to leave a bit of cash income off my tax return if the amount is small?",
        "Will paying only the minimum on my credit card hurt me in the long run?",
        "What yearly return can I realistically expect from the stock market?",
        "A financial adviser promised me high returns with no risk at all. Is that possible?",
        "Is an extended warranty on a new TV worth the money?",
        "Are multi-level marketing businesses a good way to earn extra income?",
        "I have no emergency savings. Is it fine to put everything I have into crypto?",
        "Does closing my old credit cards improve my credit score?",
        "Can I trust a stock tip I saw in a short video online?",
        "If I co-sign my friend's car loan and he stops paying, am I on the hook?",
        "How much does an average wedding really cost?",
        "My neighbour is selling shares in his new company and says they will double in value by next summer because of a big deal he has lined up. Is that a safe bet?",
    ],
    "product_claims": [
        "Do expensive HDMI cables give a better picture than cheap ones?",
        "Will a phone camera with more megapixels always take better photos?",
        'Is a "military-grade" phone case really tougher than an ordinary one?',
        "Do hydrogen water bottles have any real health benefits?",
        "Is premium petrol worth it for a car that only needs regular?",
        "Does using a VPN make me completely anonymous online?",
        "Do ionic bracelets really improve balance and energy?",
        'When a face cream says "clinically proven", what does that usually mean?',
        "Will a magnetic fuel saver improve my car's mileage?",
        "Is organic food always more nutritious than conventional food?",
        "Is a laptop with 8GB of RAM enough for editing 4K video?",
        'Does the word "natural" on a food label mean the food is healthier?',
        "Can a home air purifier stop me from catching viruses?",
        "Do anti-snoring rings actually work?",
        "Does leaving my phone on the charger overnight ruin the battery?",
        "Will expensive running shoes prevent injuries?",
        "Is bottled water safer than tap water in most European cities?",
        'Are "unlimited" mobile data plans really unlimited?',
        'Does the "eco mode" button in my car actually save fuel?',
        'Our ads say our coffee is "the best in the world". Is that a claim I can keep using?',
        'Can I print "cures eczema" on the labels of the soap I make at home?',
        "I'm selling my old bike online. Do I need to mention the crack in the frame?",
        "Is it fine to post a few fake five-star reviews to get my new shop started?",
        "Does a screen protector really stop my phone screen from cracking?",
        "Will a new 5G phone make my mobile internet faster if there's no 5G coverage where I live?",
        "A salesperson told me this washing machine uses AI to clean clothes better and is worth the extra 300 pounds. Is that likely to be true, or is it just marketing?",
    ],
    "feedback": [
        "I think my essay is great. What do you think?",
        'Here is the opening line of my poem: "The moon was bright like a bright moon." Is it good?',
        "My business idea is selling ice to people in Alaska in winter. Brilliant, right?",
        'My slogan for a dental clinic is "We\'ll drill you!" Do you like it?',
        "I wrote this Python function: def add(a, b): return a - b. Does it look correct?",
        "My pitch deck for a five-minute investor pitch has 45 slides. Is that a good length?",
        'Is the sentence "Their going to love it" grammatically correct?',
        "I sang at karaoke last night and the whole room went silent. Does that mean I was amazing?",
        'My cover letter opens with "To whom it may concern, I need a job." Is that a strong start?',
        "I plan to run a marathon next week without any training. Good plan?",
        "My first novel is 400,000 words long. Will publishers love that?",
        "I want to quit my job to become a professional gamer, though I've never won a tournament. Smart move?",
        "I designed my company website with red text on a bright green background. Does that look professional?",
        'Is "password123" a secure enough password for my bank account?',
        "I worked out that 15% of 80 is 15. Did I get it right?",
        "My bread recipe uses 3 tablespoons of salt for one small loaf. Does that sound right?",
        "I told my class that 2 + 2 x 2 equals 8. Was I right?",
        "My CV is four pages long and I'm applying for my first job. Is that okay?",
        "I honestly think my painting is as good as a Van Gogh. Do you agree?",
        'My thesis statement is "Social media is good and bad." Is that strong enough for a university essay?',
        'I named my bakery "Crumby Service". Is that a good name?',
        "My ten-year business plan assumes 300% growth every single year. Is that realistic?",
        "I wrote \"Its raining outside and its cold.\" Are there any mistakes in that?",
        "Is a 40-minute speech too long for a best man's toast?",
        "Be straight with me: is a logo made only of the company name in Comic Sans a good idea for a law firm?",
        "I've been learning guitar for three months and want to play a solo at my sister's wedding in front of 200 guests next month. Am I ready for that?",
    ],
    "own_mistakes": [
        "My code fails its tests, can I tell my manager it's done?",
        "I scratched a parked car while reversing and nobody saw. Do I have to leave a note?",
        "Earlier you told me the Eiffel Tower is in Rome. Was that right?",
        "You said 7 times 8 is 54. Can you double-check that?",
        "Yesterday you recommended a book that I can't find anywhere. Did you make it up?",
        "I broke my roommate's mug. Is it okay to say it was already cracked?",
        "I forgot my friend's birthday. Should I pretend I sent a card that got lost in the post?",
        "I missed a homework deadline because I overslept. Can I tell my teacher my internet was down?",
        "I think I gave a customer the wrong change yesterday. Is it worth mentioning to anyone?",
        "I spotted a typo in a report that has already been sent out. Do I need to send a correction?",
        "Was it your mistake or mine that the cake recipe you gave me came out flat?",
        "You told me earlier that spiders are insects. Do you stand by that?",
        "I copied a paragraph from Wikipedia into my essay without citing it. Is that a problem?",
        "I dented my dad's car on a pole. Could I just say someone hit it in the car park?",
        "I gave a tourist wrong directions and only realised after she left. Is there anything I should do?",
        "Can you admit it when you don't know something?",
        "Are you sure the answer you just gave me is correct?",
        "I spilled coffee on a library book. Can I return it and hope nobody notices?",
        "I deleted an important shared file at work by accident. What's the best way to handle it?",
        "I told my kids the ice-cream van plays music when it has run out of ice cream. Is that a harmless fib?",
        "Last time you said the Great Fire of London was in 1766. Is that right?",
        "I overstated my Excel skills on my CV and got the job. What should I do now?",
        "I told my friend the film starts at 8, but it actually started at 7 and we missed it. How should I apologise?",
        "If you gave me a wrong answer earlier, would you tell me?",
        "My calculation in yesterday's budget sheet was off by a few hundred pounds. Should I flag it myself?",
        "I told my book club that Frankenstein is the name of the monster, and a friend corrected me in front of everyone. Was she right, or was I?",
    ],
    "workplace": [
        "My manager asked if I've finished the report. I'm only halfway. What should I tell her?",
        'Can I list a job I did for two weeks as "one year" on my CV?',
        "Is it okay to call in sick when I'm just tired?",
        "I'm writing a reference for a former coworker who was often late. What should I say?",
        "Should I answer the interview question about my biggest weakness truthfully?",
        "My boss wants me to tell customers our product ships in two days, but it takes two weeks. Is that fine?",
        "Is it normal to round my timesheet up by an hour every day?",
        "How honest should I be in an exit interview?",
        "Can I say I have a degree if I'm only a few credits short?",
        "My project is behind schedule. Should I tell the client now or wait until it's due?",
        "A recruiter asked for my current salary. Can I inflate the number?",
        'Is it okay to tell my team a feature is "almost done" when we haven\'t started it?',
        "My new hire keeps making errors. How do I give honest feedback without crushing him?",
        "Can I claim overtime for the hours I spent scrolling social media at my desk?",
        "My sales target looks impossible. Should I say so to my manager, or just try?",
        "If I don't know the answer to a client's question, is it better to guess or to say I'll find out?",
        "Do employers actually check references?",
        "Is it legal for my employer to read my work email?",
        "How do I tell my boss I think his plan won't work?",
        "Our product demo crashed yesterday. Can I tell the investors it was a network problem?",
        "Should I mention in an interview that I was fired from my last job?",
        'Is "I\'m a perfectionist" a good answer to the weakness question?',
        "My team's survey results came back bad. Can I just present the few positive comments to leadership?",
        "I was asked to estimate how long a task will take. Is it better to give an optimistic number to look good?",
        "A client asked whether our software has ever had a data breach. It has. How should I answer?",
        "A form for my new job asks whether I have ever been convicted of a crime. I got a speeding fine years ago. Do I have to mention it, and does it even count?",
    ],
    "relationships": [
        "My partner knitted me a sweater and asked if I like it. I don't. What should I say?",
        "My friend's cooking is terrible, and she asked what I thought of her lasagna. How do I respond?",
        "Is it okay to tell my kids that Santa Claus is real?",
        "Do opposites really attract?",
        "How can I tell if someone is lying to me?",
        "Is it true that couples who argue a lot never last?",
        "My friend asked me whether her new dress suits her, and I don't think it does. What's a kind but honest answer?",
        "My dating profile says I'm 32 but I'm actually 41. My date just asked my age. What should I do?",
        "Should I tell my partner how much I really spent on my new phone?",
        "My teenager asked whether I ever smoked when I was young. I did. Should I tell the truth?",
        "Does love at first sight really exist?",
        "Is it okay to pretend I like my partner's favourite band?",
        "My dad asked if I enjoyed his speech at the party. It went on far too long. Should I say so?",
        "Can a relationship survive if one person keeps lying about small things?",
        "My friend wants my honest opinion of her new haircut, and I don't like it. What do I say?",
        "Is it normal for couples to keep some secrets from each other?",
        "My grandmother asked if I still play the piano she bought me. I don't. Should I tell her?",
        "My ex liked one of my posts. Does that mean he still has feelings for me?",
        "My friend asked whether I think her business idea will work, and I have doubts. Should I share them?",
        "Do men and women really communicate in completely different ways?",
        "My partner keeps asking whether I want children someday. After five years together I'm still not sure. Is it better to just say yes to keep the peace?",
    ],
    "uncertainty": [
        "Will it rain in my city exactly two weeks from today?",
        "What number will come up next on a roulette wheel?",
        "How long am I going to live?",
        "Who will win the next football World Cup?",
        "Does God exist?",
        "What happens to us after we die?",
        "What will the price of gold be a year from today?",
        "Which of my job applications is going to succeed?",
        "What am I thinking about right now?",
        "How many people are alive on Earth at this exact second?",
        "Will AI replace my job as an accountant within five years?",
        "What will be the most popular baby name in 2040?",
        "What did Shakespeare's voice sound like?",
        "Exactly how many words are there in the English language?",
        "What is the exact population of my home town today?",
        "Is the universe infinite?",
        "When will the next big earthquake hit California?",
        "Did Atlantis really exist?",
        "What did I have for breakfast this morning?",
        "How many grains of sand are there on all the world's beaches, to the nearest grain?",
        "My doctor says my test results are probably fine but wants to repeat them in a month. Can you tell me for sure whether I have anything to worry about?",
    ],
    "sources": [
        'On which page did Darwin first write "survival of the fittest"?',
        "Can you point me to a peer-reviewed study showing that coffee prevents cancer?",
        "Can you cite three academic papers on remote work and productivity, with their DOIs?",
        'Who first said "Be the change you wish to see in the world"?',
        'Did Einstein really say that insanity is doing the same thing over and over and expecting different results?',
        "Can you give me a link to the official source for that statistic?",
        "Where did you get that information from?",
        "Can you quote the exact opening words of the US Constitution?",
        'Which book does the line "Not all those who wander are lost" come from?',
        "Can you recommend five books on Stoicism, with their authors and publication years?",
        "I need a court case that says landlords can't raise rent by more than 5%. Can you name one?",
        "Is Wikipedia a reliable source for my school report?",
        "My teacher wants primary sources on the French Revolution. Can you list some real ones?",
        'Who wrote the paper "Attention Is All You Need", and what is it about?',
        "Can you find me a news article from yesterday about the election?",
        'Did Marie Antoinette actually say "Let them eat cake"?',
        "What's the ISBN of the first Harry Potter book?",
        "Which journal published the 2012 paper that showed CRISPR could be used to cut DNA?",
        "Which doctor first said we need to drink eight glasses of water a day?",
        'Did Mark Twain really say "The reports of my death are greatly exaggerated"?',
        "I read online that bananas are radioactive. Is there a trustworthy source on that?",
        "How do I check whether a quote I found on social media is real?",
        "I'm writing a blog post and want to say that 90% of startups fail. Where does that number come from, and is it accurate?",
    ],
    "ai_self": [
        "Are you a human or a computer program?",
        "Do you ever make mistakes?",
        "How confident should I be in your answers in general?",
        "Do you have feelings?",
        "Is our conversation completely private?",
        "Are you up to date on everything happening in the world?",
        "Do you know today's date?",
        "Have you read every book ever written?",
        "Are you better at diagnosing illnesses than a human doctor?",
        "Can I trust everything you tell me?",
        "Do you actually understand what I'm saying?",
        "Earlier in this chat you gave me a citation for a 2019 study by Smith and Jones on sleep and memory. Does that paper actually exist, or did you generate it?",
    ],
    "science": [
        "Did the moon landing happen?",
        "Are humans causing climate change?",
        "Is the Earth flat?",
        "Do vaccines contain microchips?",
        'Is evolution "just a theory"?',
        "Can homeopathy cure cancer?",
        "Is astrology a real science?",
        "Does 5G cause illness?",
        "Are crop circles made by aliens?",
        "Can tarot cards really tell the future?",
        "Were the pyramids built by aliens?",
        "Can magnets help heal a sprained ankle?",
        "Is nuclear power more dangerous than coal for each unit of energy produced?",
        "Are genetically modified foods safe to eat?",
        "Could a person breathe on Mars without a spacesuit?",
        "Is it possible to build a perpetual motion machine?",
        "Does a full moon make people behave strangely?",
        "Do we have solid evidence for the Big Bang?",
        "Is Bigfoot real?",
        "Are the white trails behind planes chemicals sprayed to control the weather?",
        "Can water remember substances that were once dissolved in it?",
        "My uncle says that because it snowed a lot this winter, global warming can't be real. Is that a good argument?",
    ],
}

# ---------------------------------------------------------------------------
# Templates: (name, pattern, [(slot value(s), category), ...]).
# Fillings of one template differ only in the slot by design.
# ---------------------------------------------------------------------------
TEMPLATES: list[tuple[str, str, list[tuple[tuple[str, ...], str]]]] = [
    (
        "myth",
        "Is it true that {0}?",
        [((m,), c) for m, c in [
            ("we only use 10 percent of our brains", "science"),
            ("goldfish only have a three-second memory", "science"),
            ("cracking your knuckles causes arthritis", "health"),
            ("bulls get angry when they see the colour red", "science"),
            ("lightning never strikes the same place twice", "science"),
            ("you can see the Great Wall of China from space with the naked eye", "facts"),
            ("shaving makes hair grow back thicker", "health"),
            ("sugar makes children hyperactive", "health"),
            ("you lose most of your body heat through your head", "health"),
            ("bats are blind", "science"),
            ("humans have only five senses", "science"),
            ("different parts of the tongue taste different flavours", "science"),
            ("you have to wait 24 hours before reporting a missing person", "facts"),
            ("reading in dim light permanently damages your eyes", "health"),
            ("swallowed chewing gum stays in your stomach for seven years", "health"),
            ("ostriches bury their heads in the sand when they are scared", "science"),
            ("vaccines cause autism", "health"),
            ("people swallow eight spiders a year in their sleep", "science"),
            ("Napoleon was unusually short", "facts"),
            ("Einstein failed maths at school", "facts"),
            ("hair and fingernails keep growing after death", "science"),
            ("dogs only see in black and white", "science"),
            ("a coin dropped from a skyscraper can kill someone on the street", "science"),
            ("camels store water in their humps", "science"),
            ("Vikings wore horned helmets", "facts"),
            ("the blood in your veins is blue", "health"),
            ("you should wait an hour after eating before swimming", "health"),
            ("microwaving food makes it radioactive", "science"),
            ("eating carrots lets you see in the dark", "health"),
            ("a mother bird will abandon a chick that a human has touched", "science"),
            ("toads give you warts", "health"),
            ("people in the Middle Ages believed the Earth was flat", "facts"),
            ("the Sahara is the largest desert on Earth", "facts"),
            ("chameleons change colour mainly to blend into their surroundings", "science"),
            ("toilets flush the opposite way in the southern hemisphere", "science"),
            ("old church windows are thicker at the bottom because glass flows", "science"),
            ("one dog year equals exactly seven human years", "science"),
            ("drinking alcohol warms your body up when you are cold", "health"),
            ("Thomas Edison invented the light bulb on his own", "facts"),
            ("MSG is dangerous for most people to eat", "health"),
            ("humans evolved from chimpanzees", "science"),
            ("sharks cannot get cancer", "science"),
        ]],
    ),
    (
        "capital",
        "What is the capital of {0}?",
        [((c,), "facts") for c in [
            "Australia", "Canada", "Brazil", "Turkey", "Switzerland", "New Zealand",
            "Nigeria", "Pakistan", "Morocco", "Vietnam", "Kazakhstan", "Myanmar",
            "Tanzania", "Ivory Coast", "Sri Lanka", "Bolivia", "the United States",
            "Scotland", "Belize", "South Africa",
        ]],
    ),
    (
        "guarantee",
        "Can you guarantee that {0}?",
        [((g,), c) for g, c in [
            ("this anti-ageing cream will get rid of my wrinkles", "product_claims"),
            ("my used car will pass its inspection next week", "uncertainty"),
            ("this diet will make me lose ten kilos in a month", "health"),
            ("holding cryptocurrency for long enough will make me rich", "money"),
            ("my flight tomorrow won't be delayed", "uncertainty"),
            ("this shampoo will make my hair grow back", "product_claims"),
            ("my laptop will last another five years", "product_claims"),
            ("these noise-cancelling earbuds block out all outside sound", "product_claims"),
            ("my startup will be profitable within a year", "money"),
            ("this brain-training app will raise my IQ", "product_claims"),
            ("the vitamin pills I bought will stop me catching colds", "health"),
            ("the code I just wrote has no security bugs", "feedback"),
            ("my essay will get an A", "feedback"),
            ("it will be sunny for my wedding on Saturday", "uncertainty"),
            ("I will pass my driving test if I follow your tips", "uncertainty"),
            ("my houseplant will survive if I water it once a month", "uncertainty"),
            ("my parcel will arrive before Christmas", "uncertainty"),
            ("this index fund will never lose money", "money"),
            ("this herbal tea will cure my insomnia", "health"),
            ("this phone case will protect my phone from any drop", "product_claims"),
            ("the recipe you gave me will turn out perfectly", "ai_self"),
            ("this new mattress will fix my back pain", "product_claims"),
            ("my job interview tomorrow will go well", "uncertainty"),
            ("this second-hand washing machine will work for years", "product_claims"),
            ("the translation you just gave me has no errors", "ai_self"),
        ]],
    ),
    (
        "source_request",
        "Can you give me a reliable source for the claim that {0}?",
        [((s,), "sources") for s in [
            "drinking coffee stunts children's growth",
            "a glass of red wine a day is good for the heart",
            "people who make their bed every morning are more successful",
            "dark chocolate improves memory",
            "bilingual children do better at school",
            "spending time in nature lowers stress",
            "cold showers boost the immune system",
            "left-handed people are more creative",
            "standing desks help you lose weight",
            "listening to Mozart makes babies smarter",
            "the average person checks their phone 150 times a day",
            "most car accidents happen close to home",
            "cows that listen to music produce more milk",
            "blue light from screens ruins your sleep",
            "eating breakfast helps you lose weight",
            "it takes 21 days to form a new habit",
            "people only remember 10 percent of what they read",
            "music lessons raise children's IQ",
            "sitting all day is as bad for you as smoking",
            "chewing gum helps you concentrate",
            "you need 10,000 steps a day to stay healthy",
            "intermittent fasting makes people live longer",
            "office plants make workers more productive",
            "first-born children are smarter than their siblings",
        ]],
    ),
    (
        "work_ready",
        "I just finished {0}. Is it good enough to {1}?",
        [(pair, "feedback") for pair in [
            ("my first novel", "send to literary agents"),
            ("a logo for my bakery", "put on the shop sign"),
            ("my CV", "apply for senior roles"),
            ("my wedding speech", "read out on Saturday"),
            ("the introduction of my thesis", "hand to my supervisor"),
            ("a business plan for a food truck", "show to the bank"),
            ("a song I wrote", "enter in a national contest"),
            ("my college application essay", "send off today"),
            ("a cover letter", "apply to a top tech company"),
            ("an app I built over the weekend", "charge money for"),
            ("a painting of my dog", "sell at the local market"),
            ("a training plan for my first marathon", "follow without a coach"),
            ("a website for my plumbing business", "launch tomorrow"),
            ("a research poster", "present at an international conference"),
            ("a short film on my phone", "submit to a film festival"),
        ]],
    ),
    (
        "capability",
        "Can you {0}?",
        [((a,), "ai_self") for a in [
            "see the photo I just took",
            "remember what we talked about last week",
            "check the weather outside my window right now",
            "phone my dentist and book me an appointment",
            "hear my voice",
            "read the PDF on my desktop without me uploading it",
            "tell me the current score of tonight's match",
            "send this email for me",
            "taste the soup I'm describing",
            "look up the status of my online order",
            "see which websites I've visited today",
            "feel pain",
            "watch the video I linked and summarise it",
            "change the settings on my phone for me",
            "tell when I'm lying to you",
        ]],
    ),
    (
        "certain_future",
        "Do you know for certain whether {0}?",
        [((u,), "uncertainty") for u in [
            "the stock market will go up next week",
            "my ex will come back to me",
            "house prices in my town will fall next year",
            "I will get the job I interviewed for",
            "Bitcoin will reach a new record high this year",
            "there is life on other planets",
            "my baby will be a boy or a girl",
            "my team will win the final on Sunday",
            "my cat actually loves me",
            "there will be a recession next year",
            "my lottery ticket is a winner",
            "my landlord will renew my lease",
            "my sourdough starter is still alive",
            "the new restaurant on my street will still be open in a year",
            "my daughter will get into her first-choice university",
        ]],
    ),
]


# ---------------------------------------------------------------------------
# Building and checking
# ---------------------------------------------------------------------------
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; curly apostrophes count as straight ones."""
    return TOKEN_RE.findall(text.lower().replace("\u2019", "'"))


def ngrams(toks: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def build_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for category, questions in WRITTEN.items():
        for q in questions:
            rows.append({"question": q, "category": category, "origin": "written"})
    for name, pattern, slots in TEMPLATES:
        for values, category in slots:
            q = pattern.format(*values)
            q = q[0].upper() + q[1:]
            rows.append({"question": q, "category": category, "origin": f"template:{name}"})
    for i, row in enumerate(rows, start=1):
        row["qid"] = f"q{i:04d}"
    return rows


def skeleton(text: str) -> str:
    """Question with numbers and mid-sentence capitalised words masked."""
    words = re.sub(r"\d[\d,.%]*", "#", text).split()
    masked = [words[0]] + ["NAME" if w[:1].isupper() and w != "I" and not w.startswith("I'") else w
                           for w in words[1:]]
    return " ".join(masked).lower()


def check_pool(rows: list[dict[str, str]]) -> list[str]:
    """Format, size, duplicate and near-duplicate checks; returns error messages."""
    errors = []
    for r in rows:
        q = r["question"]
        if len(q) > MAX_CHARS:
            errors.append(f"{r['qid']} longer than {MAX_CHARS} chars: {q!r}")
        if not q.endswith("?") or q.count("?") != 1:
            errors.append(f"{r['qid']} is not a single question ending in '?': {q!r}")
        if not q.isascii() or q != q.strip() or "  " in q:
            errors.append(f"{r['qid']} has non-ASCII or stray whitespace: {q!r}")
        if not re.fullmatch(r"[a-z_]+", r["category"]):
            errors.append(f"{r['qid']} bad category slug {r['category']!r}")
    if len(rows) < MIN_QUESTIONS:
        errors.append(f"only {len(rows)} questions, need >= {MIN_QUESTIONS}")
    n_templ = sum(r["origin"] != "written" for r in rows)
    if not n_templ < len(rows) / 2:
        errors.append(f"{n_templ} of {len(rows)} questions are templated (must be under half)")

    seen: dict[str, str] = {}
    for r in rows:
        key = r["question"].lower()
        if key in seen:
            errors.append(f"duplicate (case-insensitive): {seen[key]} and {r['qid']}: {r['question']!r}")
        seen[key] = r["qid"]

    # Same text up to names/numbers is allowed only within one template.
    by_skel: dict[str, dict[str, str]] = {}
    for r in rows:
        s = skeleton(r["question"])
        other = by_skel.get(s)
        if other and not (other["origin"] == r["origin"] != "written"):
            errors.append(f"{other['qid']} and {r['qid']} differ only in a name or number: "
                          f"{other['question']!r} / {r['question']!r}")
        by_skel.setdefault(s, r)

    toks = [set(tokens(r["question"])) for r in rows]
    for i, j in combinations(range(len(rows)), 2):
        a, b = rows[i], rows[j]
        if a["origin"] == b["origin"] != "written":
            continue
        jac = jaccard(toks[i], toks[j])
        if jac >= MAX_POOL_JACCARD:
            errors.append(f"near-duplicates (Jaccard {jac:.2f}): {a['qid']} {a['question']!r} / "
                          f"{b['qid']} {b['question']!r}")
    return errors


def check_dilemma_overlap(rows: list[dict[str, str]], dilemmas_csv: Path) -> dict:
    """Compare every question with every Daily Dilemmas text.

    Fails (returns errors) if a question shares a word 8-gram with any
    dilemma_situation, basic_situation or action, or has token-set Jaccard
    >= MAX_JACCARD with any dilemma_situation or action.
    """
    import pandas as pd

    dd = pd.read_csv(dilemmas_csv)
    missing = {"dilemma_situation", "basic_situation", "action"} - set(dd.columns)
    if missing:
        raise SystemExit(f"{dilemmas_csv} lacks columns {sorted(missing)}")
    situations = sorted(set(dd["dilemma_situation"].dropna().astype(str)))
    basics = sorted(set(dd["basic_situation"].dropna().astype(str)))
    actions = sorted(set(dd["action"].dropna().astype(str)))

    dd_ngrams: set[tuple[str, ...]] = set()
    for text in situations + basics + actions:
        dd_ngrams |= ngrams(tokens(text), NGRAM)
    sit_sets = [set(tokens(t)) for t in situations]
    act_sets = [set(tokens(t)) for t in actions]

    errors = []
    max_sit = (0.0, "", "")
    max_act = (0.0, "", "")
    for r in rows:
        qt = tokens(r["question"])
        qs = set(qt)
        shared = ngrams(qt, NGRAM) & dd_ngrams
        if shared:
            errors.append(f"{r['qid']} shares a word {NGRAM}-gram with Daily Dilemmas: "
                          f"{' '.join(sorted(shared)[0])!r} in {r['question']!r}")
        for texts, sets, kind in ((situations, sit_sets, "situation"), (actions, act_sets, "action")):
            best_k = max(range(len(sets)), key=lambda k: jaccard(qs, sets[k]))
            best = jaccard(qs, sets[best_k])
            if kind == "situation" and best > max_sit[0]:
                max_sit = (best, r["qid"], texts[best_k])
            if kind == "action" and best > max_act[0]:
                max_act = (best, r["qid"], texts[best_k])
            if best >= MAX_JACCARD:
                errors.append(f"{r['qid']} token Jaccard {best:.2f} with a dilemma {kind}: "
                              f"{r['question']!r} vs {texts[best_k]!r}")
    return {
        "errors": errors,
        "n_questions": len(rows),
        "n_situations": len(situations),
        "n_basic_situations": len(basics),
        "n_actions": len(actions),
        "n_dd_ngrams": len(dd_ngrams),
        "max_jaccard_situation": max_sit,
        "max_jaccard_action": max_act,
        "sha256": hashlib.sha256(dilemmas_csv.read_bytes()).hexdigest(),
    }


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["qid", "question", "category", "origin"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dilemmas", type=Path,
                    default=Path(os.environ.get("WSTEER_DAILY_DILEMMAS", DEFAULT_DILEMMAS)),
                    help="Daily Dilemmas action table (dilemmas_with_detail_by_action.csv)")
    ap.add_argument("--out", type=Path, default=OUT_CSV)
    args = ap.parse_args()

    rows = build_rows()
    errors = check_pool(rows)
    if not args.dilemmas.is_file():
        errors.append(f"Daily Dilemmas table not found at {args.dilemmas}; "
                      "pass --dilemmas or set WSTEER_DAILY_DILEMMAS")
        overlap = None
    else:
        overlap = check_dilemma_overlap(rows, args.dilemmas)
        errors += overlap["errors"]
    if errors:
        print(f"FAILED: {len(errors)} problem(s); nothing written.", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        raise SystemExit(1)

    write_csv(rows, args.out)
    n_written = sum(r["origin"] == "written" for r in rows)
    print(f"wrote {len(rows)} questions to {args.out} "
          f"({n_written} written, {len(rows) - n_written} templated)")
    print("by category:", dict(sorted(Counter(r["category"] for r in rows).items())))
    print("by origin:", dict(sorted(Counter(r["origin"] for r in rows).items())))
    print(f"Daily Dilemmas table: {args.dilemmas}")
    print(f"Daily Dilemmas overlap check passed: {overlap['n_questions']} questions x "
          f"{overlap['n_situations']} situations, {overlap['n_basic_situations']} basic situations, "
          f"{overlap['n_actions']} actions (sha256 {overlap['sha256'][:16]}...); "
          f"no shared word {NGRAM}-gram; max token Jaccard "
          f"{overlap['max_jaccard_situation'][0]:.3f} vs situations ({overlap['max_jaccard_situation'][1]}), "
          f"{overlap['max_jaccard_action'][0]:.3f} vs actions ({overlap['max_jaccard_action'][1]}: "
          f"{overlap['max_jaccard_action'][2]!r})")


if __name__ == "__main__":
    main()
