"""Regenerate ``samples/feedback.xlsx`` and its gold labels ``samples/feedback_labels.csv``.

Run ``python samples/make_feedback.py``. The output is deterministic (fixed seed, no network),
so re-running it yields the same rows, IDs, dates and labels.

The workbook is customer feedback for Basketly, a fictional online retailer with a grocery
delivery app. Sheet ``Feedback`` holds the rows; sheet ``sheetai`` is the config tab with a
``sentiment`` and a ``topic`` step.

The gold labels were assigned by hand, one review at a time, with these rules:

* Sentiment is the customer's overall feeling about their experience. Sarcasm counts as what it
  means, not what it says. A question is Neutral unless it is really a complaint ("WHERE IS MY
  ORDER"). A suggestion, a plain fact, or praise and complaint in balance is Neutral.
* Topic is what the customer mainly wants us to know or fix. Late, lost, damaged-in-transit,
  incomplete or wrong orders, drivers and substitutions are Delivery; the item itself (defects,
  freshness, size, taste, looks) is Product quality; charges, prices, fees, promo codes, payment
  methods, refunds and the Plus subscription are Billing & refunds; how support people or the
  chatbot treated the customer is Customer service; using the app or website is App & website;
  everything else (policies, range, marketing, jobs, general praise, noise) is Other.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, replace
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from sheetai.config import CONFIG_HEADERS

HERE = Path(__file__).resolve().parent
XLSX_PATH = HERE / "feedback.xlsx"
LABELS_PATH = HERE / "feedback_labels.csv"
SEED = 20240614

POS, NEU, NEG = "Positive", "Neutral", "Negative"
DEL, QUAL, BILL = "Delivery", "Product quality", "Billing & refunds"
CS, APP, OTHER = "Customer service", "App & website", "Other"

GRO, ELEC, HOME, FASH = "Groceries", "Electronics", "Home & kitchen", "Fashion"
TOYS, BOOKS, GIFTS = "Toys & games", "Books", "Flowers & gifts"
PLUS, APPP = "Basketly Plus", "Basketly app"
PRODUCTS = [GRO, GRO, GRO, ELEC, HOME, FASH, TOYS, BOOKS, GIFTS]

# The review table is laid out by hand, one review per entry with its labels on one line.
# fmt: off
# (review, sentiment, topic, product); product None means "any product".
ENGLISH: list[tuple[str, str, str, str | None]] = [
    # --- Delivery -----------------------------------------------------------------------
    (
        "Ordered on Monday with next-day delivery, it's now Thursday and the tracking still "
        "says 'label created'. What exactly am I paying for?",
        NEG, DEL, ELEC,
    ),
    (
        "Groceries arrived 20 mins early and the driver carried everything up to the 4th "
        "floor. Legend.",
        POS, DEL, GRO,
    ),
    (
        "Driver left my parcel in the rain outside the building door. Box was soaked through "
        "and the book inside is ruined.",
        NEG, DEL, BOOKS,
    ),
    ("Can I change the delivery address after the order has been dispatched?", NEU, DEL, None),
    ("WHERE IS MY ORDER. THREE WEEKS. THREE. NOBODY CAN TELL ME ANYTHING.", NEG, DEL, None),
    (
        "Love how the app says 'delivered' and shows a photo of a door that is definitely not "
        "mine. Great job guys 👏👏",
        NEG, DEL, None,
    ),
    ("fast delivery, well packed, thanks", POS, DEL, None),
    (
        "Delivery came in two seperate boxes on different days, not sure why but everything "
        "is here now.",
        NEU, DEL, HOME,
    ),
    (
        "missing 3 items from my grocery order (eggs, milk, the bread) and still charged for "
        "them",
        NEG, DEL, GRO,
    ),
    (
        "The new evening delivery slots are a game changer for me since I work late. Thank "
        "you!!",
        POS, DEL, GRO,
    ),
    ("Parcel arrived a day later than estimated but it was fine.", NEU, DEL, FASH),
    (
        "Recieved someone elses order. Kept the frozen peas, returned the rest. Where are MY "
        "things?",
        NEG, DEL, GRO,
    ),
    (
        "The courier threw the box over my fence. I watched it on my doorbell camera. It had "
        "glasses in it.",
        NEG, DEL, HOME,
    ),
    ("Shoutout to Marek the driver, always friendly and careful with the eggs 🥚😄", POS, DEL, GRO),
    ("Is delivery to the Channel Islands available?", NEU, DEL, None),
    (
        "Delivery window of 8am-8pm is useless. I can't stay home all day waiting for one "
        "parcel.",
        NEG, DEL, ELEC,
    ),
    (
        "items arrived smashed, jar of pasta sauce broke all over everything. packaging was "
        "just a thin plastic bag",
        NEG, DEL, GRO,
    ),
    ("Click and collect was quick and easy, bag was ready when I arrived.", POS, DEL, None),
    (
        "tracking number doesn't work on the courier site yet, is that normal for the first "
        "24h?",
        NEU, DEL, None,
    ),
    (
        "Third time this month the ice cream has arrived as soup. Maybe invest in some cool "
        "bags?",
        NEG, DEL, GRO,
    ),
    ("Rescheduled my delivery twice without asking me. Not impressed.", NEG, DEL, None),
    (
        "Same-day delivery actually came the same day. Honestly didn't expect that. Impressed.",
        POS, DEL, ELEC,
    ),
    (
        "Order arrived on time, all fine. Box was comically big for one phone case though.",
        NEU, DEL, ELEC,
    ),
    (
        "Driver refused to come to the door, phoned me and said 'come down or I leave it'. "
        "I'm on crutches.",
        NEG, DEL, GRO,
    ),
    (
        "Second week in a row the substitute for my oat milk is... cow's milk. I'm vegan. "
        "Do the pickers even read the notes?",
        NEG, DEL, GRO,
    ),
    ("Left with neighbour at number 12, all fine.", NEU, DEL, None),
    (
        "Rider came through a proper storm to bring my shopping. Gave him a big tip, hero "
        "⛈️",
        POS, DEL, GRO,
    ),
    (
        "ORDER SAYS OUT FOR DELIVERY SINCE 7AM ITS NOW 10PM. I CANCELLED MY PLANS FOR THIS",
        NEG, DEL, None,
    ),
    ("The 'eco' delivery option took 9 days. Nine. For a toothbrush.", NEG, DEL, None),
    (
        "Do drivers take the old appliance away when they deliver a new washing machine?",
        NEU, DEL, HOME,
    ),
    ("Half the eggs were cracked when the bag got here", NEG, DEL, GRO),
    ("Driver messaged me when he was 5 mins away, very handy", POS, DEL, None),
    (
        "Item marked as delivered at 14:02. I was home all day. No knock, no parcel, no "
        "card.",
        NEG, DEL, ELEC,
    ),
    ("What happens if I'm not home when the driver comes?", NEU, DEL, None),
    (
        "Rain, snow, whatever - deliveries are always on time. Thanks to all the drivers ❄️",
        POS, DEL, GRO,
    ),
    (
        "Groceries delivered to the wrong flat, neighbour brought them round 2 hours later. "
        "All the frozen stuff had thawed.",
        NEG, DEL, GRO,
    ),
    ("Do you deliver to care homes? Asking for my grandad.", NEU, DEL, GRO),
    (
        "Van has been parked outside for 40 mins and my slot finished 30 mins ago. Is he "
        "coming in or just having lunch?",
        NEG, DEL, GRO,
    ),
    ("Delivered in under an hour 🚀🚀🚀", POS, DEL, GRO),
    (
        "I honestly don't know where to start. I placed an order for my daughter's birthday "
        "party, chose the Saturday 10-12 slot and paid extra for it specifically because the "
        "party was at 2pm. At 11:55 I got a text saying the delivery was 'running late'. At "
        "1:30 I got another one saying it had been rescheduled to Sunday. Sunday! The party "
        "was on Saturday! No cake, no balloons, no drinks, nothing. I ended up running round "
        "the corner shop with a car full of seven-year-olds. When I tried to cancel the Sunday "
        "delivery the app wouldn't let me because it was 'already being picked'. So now I have "
        "a birthday cake for a party that already happened. Thanks for ruining her day, really.",
        NEG, DEL, GRO,
    ),
    (
        "Just wanted to leave some positive feedback because people only ever write when "
        "something goes wrong. Our regular driver on Thursday mornings (I think his name is "
        "Tomasz) is an absolute star. My wife uses a wheelchair and our front step is tricky, "
        "and without us ever asking he started bringing the crates right into the kitchen and "
        "putting the heavy stuff on the counter. Last month when we'd forgotten to be in, he "
        "rang ahead, waited ten minutes, and then came back at the end of his route rather than "
        "taking everything back to the depot. It's a small thing maybe but it makes a massive "
        "difference to us. Please pass this on to his manager. Thank you!!",
        POS, DEL, GRO,
    ),
    (
        "Parcel arrived. Outer box was dented, item inside seems ok though, haven't tested it "
        "yet.",
        NEU, DEL, ELEC,
    ),
    # --- Product quality ------------------------------------------------------------------
    (
        "The 'waterproof' jacket is not waterproof. Got soaked on the first walk.",
        NEG, QUAL, FASH,
    ),
    (
        "These headphones are amazing for the price, battery lasts forever.",
        POS, QUAL, ELEC,
    ),
    ("strawberrys were mouldy on arrival, the whole punnet", NEG, QUAL, GRO),
    (
        "Does the XL in this brand run small? I'm usually an L but the reviews say size up.",
        NEU, QUAL, FASH,
    ),
    ("Kettle started leaking after two weeks. Cheap rubbish.", NEG, QUAL, HOME),
    (
        "Best sourdough I've had from a supermarket. Please never stop stocking it.",
        POS, QUAL, GRO,
    ),
    ("The blender is powerful but really loud. Does the job I guess.", NEU, QUAL, HOME),
    (
        "Colour is nothing like the photo. Ordered 'sage green', got something closer to "
        "hospital-corridor grey.",
        NEG, QUAL, HOME,
    ),
    (
        "Quality of the own-brand bedding is excellent, washed it 10 times and it's still soft.",
        POS, QUAL, HOME,
    ),
    (
        "Wow, a phone charger that charges for a whole three days before dying. Truly "
        "cutting-edge tech.",
        NEG, QUAL, ELEC,
    ),
    ("Bananas were a bit green but they'll ripen.", NEU, QUAL, GRO),
    (
        "The shoes fell apart after a month. The sole literally came off while I was walking.",
        NEG, QUAL, FASH,
    ),
    (
        "The air fryer is fantastic, I use it every day. 10/10 would recommend.",
        POS, QUAL, HOME,
    ),
    (
        "Chicken breast was past its use by date when delivered. Not acceptable for food.",
        NEG, QUAL, GRO,
    ),
    ("Is the bamboo chopping board dishwasher safe? The listing doesn't say.", NEU, QUAL, HOME),
    (
        "Tv has a dead pixel right in the middle. Really annoying on a brand new £400 TV.",
        NEG, QUAL, ELEC,
    ),
    ("kids love the lego set, came complete no missing pieces 😊", POS, QUAL, TOYS),
    ("Nice dress, fabric thinner than I expected though.", NEU, QUAL, FASH),
    (
        "The 'ripe and ready' avocados were hard as rocks and then went black inside "
        "overnight.",
        NEG, QUAL, GRO,
    ),
    (
        "Bought the robot vacuum on a whim, it's genuinely the best purchase I made this year.",
        POS, QUAL, ELEC,
    ),
    (
        "Smells strongly of chemicals. Had the rug out on the balcony for a week and it still "
        "stinks.",
        NEG, QUAL, HOME,
    ),
    ("Does the granola contain nuts? The packet doesn't say, I have an allergy.", NEU, QUAL, GRO),
    ("THE MILK WAS SOUR. AGAIN. CHECK YOUR FRIDGES.", NEG, QUAL, GRO),
    (
        "Beautiful mugs, heavier and better made than I thought they would be.",
        POS, QUAL, HOME,
    ),
    (
        "Battery on the power bank swelled up after a month, that's actually dangerous.",
        NEG, QUAL, ELEC,
    ),
    ("honestly the best coffee beans ive bought online, fresh roast date etc", POS, QUAL, GRO),
    ("Ordered a 'family size' lasagne. Fed one adult. Barely.", NEG, QUAL, GRO),
    ("Screen protector had bubbles no matter what i did, waste of money", NEG, QUAL, ELEC),
    (
        "The portions on the ready meals seem smaller than they used to be, has the recipe "
        "changed?",
        NEU, QUAL, GRO,
    ),
    (
        "Flowers for my wife's birthday were stunning and lasted nearly two weeks 💐",
        POS, QUAL, GIFTS,
    ),
    (
        "Bought a 'solid oak' side table. It's veneer over chipboard. Misleading description.",
        NEG, QUAL, HOME,
    ),
    ("Taste is ok, bit too sweet for me.", NEU, QUAL, GRO),
    ("the kids' wellies are sturdy and survived a whole winter of puddles", POS, QUAL, FASH),
    ("Is this charger compatible with the Pixel 8?", NEU, QUAL, ELEC),
    ("the 'non stick' pan is very much stick", NEG, QUAL, HOME),
    (
        "Jeans fit perfectly, finally a brand that gets the length right for short people!",
        POS, QUAL, FASH,
    ),
    ("Toy broke within an hour. My son was in tears.", NEG, QUAL, TOYS),
    ("The tomatoes actually taste like tomatoes. Rare these days!", POS, QUAL, GRO),
    (
        "Mixed feelings about the stand mixer. The good: it's powerful, handles bread dough "
        "without struggling, the bowl is a good size and it looks great on the counter. The "
        "not-so-good: it's very heavy so you can't really put it away in a cupboard, the splash "
        "guard is flimsy and doesn't clip on properly, and on the highest speed it walks across "
        "the worktop unless you hold it. The whisk attachment is brilliant, the dough hook is "
        "fine, the paddle leaves a layer at the bottom of the bowl that you have to scrape by "
        "hand. For the price I expected a bit more, but it's not bad either. Would I buy it "
        "again? Probably, but I'd wait for a sale.",
        NEU, QUAL, HOME,
    ),
    (
        "Paperback arrived with a creased cover and a few pages printed upside down?? How does "
        "that even happen",
        NEG, QUAL, BOOKS,
    ),
    # --- Billing & refunds ------------------------------------------------------------------
    ("Charged twice for the same order. Bank shows two payments of £63.20.", NEG, BILL, GRO),
    (
        "Still waiting on my refund, it's been 3 weeks since you got the return.",
        NEG, BILL, FASH,
    ),
    ("Refund came through in 2 days, super smooth. Thanks!", POS, BILL, FASH),
    ("How do I cancel my Basketly Plus subscription before it renews?", NEU, BILL, PLUS),
    ("Promo code WELCOME10 says invalid even though I'm a new customer", NEG, BILL, None),
    (
        "Oh great, the delivery fee went up again. Can't wait to pay £4.99 to get a loaf of "
        "bread.",
        NEG, BILL, GRO,
    ),
    ("I was charged 50p for a bag. Is that a new thing?", NEU, BILL, GRO),
    (
        "You took £12.99 for Plus after I cancelled. I have the cancellation email. Give it "
        "back.",
        NEG, BILL, PLUS,
    ),
    (
        "Prices on the weekly shop are genuinely cheaper than the big supermarkets near me. "
        "Happy customer.",
        POS, BILL, GRO,
    ),
    ("Can I get an invoice with my company VAT number on it?", NEU, BILL, ELEC),
    (
        "refund went to a card I cancelled and now the money is in limbo, nobody seems to know "
        "what to do",
        NEG, BILL, None,
    ),
    ("STOP CHARGING ME FOR A SUBSCRIPTION I NEVER SIGNED UP FOR!!!", NEG, BILL, PLUS),
    (
        "Noticed oat milk is £1.85 now, it was £1.40 last month. Is that a permanent price "
        "change?",
        NEU, BILL, GRO,
    ),
    (
        "Got a £5 credit automatically because my order was late. Didn't even have to ask. "
        "Nice touch.",
        POS, BILL, GRO,
    ),
    (
        "Paid with PayPal, you cancelled the order, and 10 days later still no money back.",
        NEG, BILL, ELEC,
    ),
    ("Do you accept Klarna or any buy now pay later?", NEU, BILL, ELEC),
    (
        "Hidden 'service fee' only shows up at the very last step of checkout. Sneaky.",
        NEG, BILL, GRO,
    ),
    (
        "I got charged for items that were out of stock and never delivered. Where's the "
        "refund for those?",
        NEG, BILL, GRO,
    ),
    ("Price in the app said £3.50, charged £4.20 at checkout. Explain?", NEG, BILL, GRO),
    (
        "Gift card balance shows £0 but I haven't used it yet. Can someone check please?",
        NEU, BILL, GIFTS,
    ),
    ("Student discount applied without any hassle, thanks Basketly!", POS, BILL, None),
    (
        "Why does a £2 item have £3.99 delivery AND a £1 small basket fee? absolute robbery",
        NEG, BILL, GRO,
    ),
    (
        "Refund received but it's £3.99 less than what I paid. Was the delivery fee not "
        "refunded?",
        NEU, BILL, FASH,
    ),
    (
        "Can't believe I was charged a restocking fee for returning something that arrived "
        "BROKEN.",
        NEG, BILL, ELEC,
    ),
    (
        "Plus pays for itself if you order weekly like I do, free delivery every time. Worth "
        "it.",
        POS, BILL, PLUS,
    ),
    (
        "This is now my sixth message about the same refund so forgive the length. Six weeks "
        "ago I returned a pair of boots (order 5521-884) using your own prepaid label. The "
        "tracking shows it was delivered to your returns centre three days later and signed "
        "for. Your policy says refunds are processed within 5 working days. Every time I ask I "
        "get told it's 'with the finance team' and will be 'escalated'. I have screenshots of "
        "every chat. £89.99 is not a small amount of money for me, and I am not prepared to "
        "wait indefinitely while you sit on it. If it is not in my account by Friday I will be "
        "raising a chargeback with my bank and reporting this to Trading Standards.",
        NEG, BILL, FASH,
    ),
    # --- Customer service -------------------------------------------------------------------
    ("Priya on live chat sorted my problem in 5 minutes. Fantastic service!", POS, CS, None),
    (
        "Spent 45 minutes on hold then got cut off. Called again, another 30 mins. Ridiculous.",
        NEG, CS, None,
    ),
    (
        "The chatbot is useless. It just keeps sending me the same FAQ link no matter what I "
        "type.",
        NEG, CS, None,
    ),
    (
        "Had an issue with a broken lamp, support sent a replacement the next day no questions "
        "asked. This is why I keep shopping here.",
        POS, CS, HOME,
    ),
    ("Emailed support 4 times. 4 automated replies. Zero humans.", NEG, CS, None),
    ("What are your customer service phone hours at the weekend?", NEU, CS, None),
    (
        "Thank you for the 'we value your feedback' email. Very comforting while I still "
        "don't have an answer from anyone.",
        NEG, CS, None,
    ),
    (
        "The agent I spoke to was so patient with my mum who isn't great with tech. Really "
        "appreciated it.",
        POS, CS, None,
    ),
    ("Agent hung up on me when I asked to speak to a manager.", NEG, CS, None),
    (
        "Spoke to support, they said someone will call me back within 48 hours. Waiting.",
        NEU, CS, None,
    ),
    ("your agents clearly read from a script and dont listen to a word you say", NEG, CS, None),
    ("Thanks team, really helpful as always 🙏", POS, CS, None),
    ("Was promised a callback on Tuesday. It's Friday.", NEG, CS, None),
    (
        "Support fixed it in the end but I had to explain the issue three times to three "
        "different people.",
        NEU, CS, None,
    ),
    ("Quick reply to my email and problem solved. Cheers", POS, CS, None),
    ("Your live chat closes at 6pm?? Some of us work.", NEG, CS, None),
    (
        "Got three different answers from three different agents about the same question.",
        NEG, CS, None,
    ),
    (
        "A manager called me personally to apologise after my complaint. Didn't expect that, "
        "thank you.",
        POS, CS, None,
    ),
    ("Nobody answers the phone. Ever.", NEG, CS, None),
    (
        "Raised ticket #48213 about a missing item, no reply yet, just checking it's in the "
        "queue.",
        NEU, CS, None,
    ),
    (
        "I have never been treated so badly by a company. I called because my order was "
        "missing half its items, a simple problem. The first agent put me on hold for twenty "
        "minutes and then the line went dead. The second agent told me it was my fault for not "
        "checking the bags in front of the driver, which is ridiculous, nobody does that. When "
        "I asked to speak to a supervisor she said there wasn't one available and that I could "
        "'email if I wanted'. I emailed. I got an automated response with a link to the FAQ. "
        "I'm not even angry about the missing items anymore, I'm angry about being spoken to "
        "like I was trying to scam you. Closing my account.",
        NEG, CS, GRO,
    ),
    (
        "I want to say a proper thank you to Daniel in your customer care team. My dad is 84 "
        "and lives alone, and he'd somehow ended up with a weekly order set up that he didn't "
        "want and couldn't work out how to stop. When I rang up on his behalf I was expecting "
        "a fight about data protection and passwords, but Daniel was brilliant. He stayed on "
        "the line while I got Dad on the other phone, explained everything slowly, cancelled "
        "the recurring order, and even noticed that Dad had been paying for Plus without using "
        "it and sorted that out as well. It took maybe twenty minutes and he never once made "
        "either of us feel stupid. That's the kind of service that keeps me loyal.",
        POS, CS, None,
    ),
    ("the lady on the phone was lovely but couldnt actually help", NEU, CS, None),
    ("Useless. Absolutly useless customer service.", NEG, CS, None),
    # --- App & website ----------------------------------------------------------------------
    (
        "App crashes every time I try to open my basket. iPhone 13, latest update.",
        NEG, APP, APPP,
    ),
    (
        "The new app design is so much cleaner, finding stuff is way easier now",
        POS, APP, APPP,
    ),
    (
        "Can't log in. Reset my password 3 times, still 'invalid credentials'. Help???",
        NEG, APP, APPP,
    ),
    ("Is there a dark mode in the app? Couldn't find it in settings.", NEU, APP, APPP),
    (
        "Search is terrible. Typed 'milk' and the first result was a phone charger.",
        NEG, APP, APPP,
    ),
    ("Love the reorder button, my weekly shop takes 2 minutes now.", POS, APP, APPP),
    (
        "website keeps logging me out in the middle of checkout and emptying my basket!! so "
        "frustrating",
        NEG, APP, None,
    ),
    (
        "Why does the app need my location permission? Just curious before I allow it.",
        NEU, APP, APPP,
    ),
    ("Update broke the app on Android. Stuck on the splash screen forever.", NEG, APP, APPP),
    ("Barcode scanner in the app is brilliant for adding stuff I run out of.", POS, APP, APPP),
    (
        "Nothing says 'modern tech company' like a website that times out when you click "
        "'pay'.",
        NEG, APP, None,
    ),
    ("The app is fine, does what it needs. The filters could be better.", NEU, APP, APPP),
    (
        "too many push notifications. I don't need 5 messages a day about discounts on crisps",
        NEG, APP, APPP,
    ),
    ("How do I delete my account and data from the app?", NEU, APP, APPP),
    ("Checkout on the website is quick now, apple pay works perfectly 👍", POS, APP, None),
    (
        "The substitutions screen doesn't let me say 'no substitutes' for just one item. It's "
        "all or nothing. Please fix.",
        NEG, APP, APPP,
    ),
    ("ur app is trash", NEG, APP, APPP),
    ("Tracking the driver live on the map is weirdly satisfying lol", POS, APP, APPP),
    (
        "Can't add my card in the app, it just says 'something went wrong'. Very helpful 🙄",
        NEG, APP, APPP,
    ),
    ("the favourites list saves me so much time, thanks whoever designed it", POS, APP, APPP),
    (
        "Website is so slow on my laptop, takes ages for each page to load. Gave up and used "
        "my phone.",
        NEG, APP, None,
    ),
    (
        "Bug report since your support form also doesn't work: on the Android app (version "
        "5.12.1, Samsung S21) if you add an item from the 'Buy it again' list and then change "
        "the quantity in the basket, the quantity resets to 1 as soon as you go back to the "
        "home screen. It also happens with items added from search, but only sometimes. Then at "
        "checkout the total is wrong, it shows the price for the bigger quantity but the basket "
        "only has 1. I've ended up with orders of one tin of tomatoes instead of six three "
        "times now. I've cleared the cache, reinstalled, logged out and in. Nothing. It worked "
        "fine before the last update. Please sort it out, it's driving me up the wall.",
        NEG, APP, APPP,
    ),
    (
        "I've used the app almost daily for a few months now, so here are some honest "
        "thoughts. Finding products is quick, the 'buy it again' list is handy and the "
        "checkout is painless. On the other hand the search ignores spelling mistakes entirely "
        "(type 'yoghurt' without the h and you get nothing), the filters reset every time you "
        "go back a page, and there is no way to sort by price per kilo, which is the one thing "
        "I actually want when I'm comparing brands. It also drains my battery more than it "
        "should for a shopping app. None of this is a deal breaker and I keep using it, but it "
        "feels like it could be a lot better with a bit more care.",
        NEU, APP, APPP,
    ),
    ("LOGIN CODE NEVER ARRIVES. TRIED 6 TIMES.", NEG, APP, APPP),
    # --- Other ------------------------------------------------------------------------------
    ("Love this company ❤️", POS, OTHER, None),
    ("Do you have any job openings for drivers in Leeds?", NEU, OTHER, None),
    ("ok", NEU, OTHER, None),
    ("meh", NEU, OTHER, None),
    (
        "Why on earth do you still not offer anything in plastic-free packaging? It's 2024.",
        NEG, OTHER, GRO,
    ),
    (
        "Been a customer for 6 years and never had a reason to switch. Keep it up.",
        POS, OTHER, None,
    ),
    ("Please open a pickup point in Swindon!", NEU, OTHER, None),
    ("Is Basketly owned by the same company as QuickCart?", NEU, OTHER, None),
    (
        "Your new TV advert is incredibly annoying. Every ad break. Every single one.",
        NEG, OTHER, None,
    ),
    ("The food bank donation option at checkout is a lovely idea.", POS, OTHER, GRO),
    ("test", NEU, OTHER, None),
    (
        "Would be nice to have more vegan options in the ready meals section.",
        NEU, OTHER, GRO,
    ),
    ("Stop sending me marketing emails, I've unsubscribed twice.", NEG, OTHER, None),
    ("👍", POS, OTHER, None),
    ("The recipe cards you've started putting in the bags are a lovely touch", POS, OTHER, GRO),
    ("Do you have a physical shop I can visit?", NEU, OTHER, None),
    (
        "Really disappointed you've stopped selling the Greek yoghurt I bought every week for "
        "years.",
        NEG, OTHER, GRO,
    ),
    ("Recommended you to all my friends, best online shop by far.", POS, OTHER, None),
    (
        "The returns policy is a joke. Only 14 days and I have to pay the postage myself?",
        NEG, OTHER, FASH,
    ),
    ("Great stuff, thank you 😊", POS, OTHER, None),
    (
        "You're sponsoring my kid's football team this season, that was really kind. Thanks "
        "from all the parents!",
        POS, OTHER, None,
    ),
]

# (language, review, sentiment, topic, product)
FOREIGN: list[tuple[str, str, str, str, str | None]] = [
    (
        "fr",
        "Colis arrivé avec cinq jours de retard et le carton était complètement écrasé. "
        "Très déçu.",
        NEG, DEL, HOME,
    ),
    (
        "fr",
        "Le conseiller au téléphone a été très patient et a réglé mon problème en quelques "
        "minutes. Merci !",
        POS, CS, None,
    ),
    ("fr", "Est-ce que l'application existe en français ?", NEU, APP, APPP),
    (
        "es",
        "Me cobraron dos veces el mismo pedido y nadie me responde. Quiero mi dinero ya.",
        NEG, BILL, ELEC,
    ),
    (
        "es",
        "Los auriculares suenan genial y la batería dura muchísimo. ¡Muy recomendables!",
        POS, QUAL, ELEC,
    ),
    ("es", "¿Hacen envíos a Canarias?", NEU, DEL, None),
    (
        "de",
        "Die App stürzt ständig ab, sobald ich bezahlen will. So kann man nicht einkaufen.",
        NEG, APP, APPP,
    ),
    ("de", "Lieferung kam pünktlich, alles gut verpackt. Gerne wieder!", POS, DEL, GRO),
    (
        "de",
        "Die Jacke ist nach der ersten Wäsche eingelaufen. Qualität leider sehr schlecht.",
        NEG, QUAL, FASH,
    ),
    (
        "pt",
        "Liguei três vezes para o suporte e ninguém resolveu nada. Péssimo atendimento.",
        NEG, CS, None,
    ),
    ("pt", "Adoro a Basketly, compro aqui todas as semanas 😍", POS, OTHER, GRO),
    ("it", "Posso pagare con PayPal? Non trovo l'opzione al checkout.", NEU, BILL, None),
    (
        "it",
        "Il pacco risulta consegnato ma non l'ho mai ricevuto. Nessuno mi sa dire dove sia "
        "finito.",
        NEG, DEL, ELEC,
    ),
    ("nl", "Super handige app, bestellen gaat razendsnel. Top!", POS, APP, APPP),
    (
        "nl",
        "De kwaliteit van de handdoeken is prima, maar de kleur is anders dan op de foto.",
        NEU, QUAL, HOME,
    ),
]

# Reviews that a customer sent twice (double-submitted web forms, a tweet and an email, ...).
DUPLICATED = [
    "fast delivery, well packed, thanks",
    "Love this company ❤️",
    "ok",
    "Charged twice for the same order. Bank shows two payments of £63.20.",
    "WHERE IS MY ORDER. THREE WEEKS. THREE. NOBODY CAN TELL ME ANYTHING.",
    "App crashes every time I try to open my basket. iPhone 13, latest update.",
]
BLANK_ROWS = 8

CHANNELS = ["Email", "App store", "Web form", "Twitter", "Phone transcript"]
CHANNEL_WEIGHTS = [30, 18, 27, 15, 10]
TWEET_LIMIT = 280

FIRST_NAMES = {
    "en": [
        "Olivia", "James", "Amelia", "Mohammed", "Sophie", "Daniel", "Aisha", "Tom", "Grace",
        "Ravi", "Chloe", "Liam", "Hannah", "Kwame", "Emily", "Connor", "Zara", "Ben", "Megan",
        "Wei", "Laura", "Callum", "Fatima", "Jack", "Niamh", "Priya", "Owen", "Ellie", "Sam",
    ],
    "fr": ["Camille", "Louis", "Chloé", "Hugo", "Léa"],
    "es": ["Lucía", "Javier", "Carmen", "Pablo"],
    "de": ["Jonas", "Lena", "Felix", "Anna"],
    "pt": ["João", "Beatriz", "Tiago"],
    "it": ["Giulia", "Marco", "Chiara"],
    "nl": ["Sanne", "Daan", "Femke"],
}
LAST_NAMES = {
    "en": [
        "Smith", "Patel", "Jones", "Khan", "Williams", "Taylor", "Brown", "Wilson", "Evans",
        "O'Brien", "Davies", "Nguyen", "Walker", "Hughes", "Ahmed", "Clarke", "Murphy", "Okafor",
        "Robinson", "Wright", "Chen", "Thompson", "Green", "Hall", "Kowalski",
    ],
    "fr": ["Martin", "Bernard", "Dubois", "Lefèvre"],
    "es": ["García", "Fernández", "López", "Martínez"],
    "de": ["Müller", "Schmidt", "Becker", "Wagner"],
    "pt": ["Silva", "Santos", "Oliveira"],
    "it": ["Rossi", "Bianchi", "Ferrari"],
    "nl": ["de Vries", "Jansen", "Bakker"],
}
# fmt: on
FIRST_DATE = dt.date(2024, 1, 3)
LAST_DATE = dt.date(2024, 6, 28)

CONFIG_HEADER = CONFIG_HEADERS
CONFIG_ROWS = [
    [
        "sentiment",
        "Feedback",
        "Review",
        "classify",
        "Classify the customer's overall sentiment about their experience.",
        "Positive: happy, thankful or recommends us\n"
        "Neutral: a question, a plain fact or a mixed opinion\n"
        "Negative: complains, is angry or disappointed",
        "Sentiment",
        "local",
        0.6,
        "Came a day early and beautifully wrapped, thank you! => Positive\n"
        "Do you deliver on Sundays? => Neutral\n"
        "Lovely pan but the handle gets hot. => Neutral\n"
        "Still no refund after a month. Useless. => Negative\n"
        "Great, another 'delivered' parcel that never turned up. => Negative",
    ],
    [
        "topic",
        "Feedback",
        "Review",
        "classify",
        "What is the feedback mainly about?",
        "Delivery: delivery times, couriers and drivers, tracking, or orders that arrive late, "
        "damaged, incomplete or wrong\n"
        "Product quality: the item itself, such as defects, freshness, fit, taste or looks\n"
        "Billing & refunds: charges, prices, fees, promo codes, payments, refunds or the Plus "
        "subscription\n"
        "Customer service: how our support agents, phone line, chat or chatbot dealt with "
        "the customer\n"
        "App & website: using the app or website, such as bugs, crashes, login, search or "
        "checkout\n"
        "Other: anything else, such as policies, our product range, marketing or general "
        "comments",
        "Topic",
        "local",
        0.5,
        "The courier left my parcel at the wrong house. => Delivery\n"
        "The zip broke the second time I wore it. => Product quality\n"
        "I was charged again for a coat I sent back. => Billing & refunds\n"
        "The agent on the chat was very rude to me. => Customer service\n"
        "The checkout button does nothing on my phone. => App & website\n"
        "Are your carrier bags recyclable? => Other",
    ],
]


@dataclass
class Row:
    """One Feedback row plus its gold labels; a blank review has no labels."""

    review: str | None
    sentiment: str
    topic: str
    product: str
    lang: str
    customer: str
    channel: str
    id: str = ""
    date: dt.date = FIRST_DATE


def _rows(rng: random.Random) -> list[Row]:
    """The Feedback rows in sheet order: shuffled reviews, then duplicates and blanks."""
    labelled = [("en", *review) for review in ENGLISH] + list(FOREIGN)
    texts = [text for _, text, *_ in labelled]
    assert len(set(texts)) == len(texts), "review texts must be unique before duplication"
    rows = [
        Row(
            review=text,
            sentiment=sentiment,
            topic=topic,
            product=product or rng.choice(PRODUCTS),
            lang=lang,
            customer=_customer(rng, lang),
            channel=_channel(rng, text),
        )
        for lang, text, sentiment, topic, product in labelled
    ]
    rng.shuffle(rows)

    # A duplicate is the same customer sending the same text again, later on.
    for text in DUPLICATED:
        first = [row.review for row in rows].index(text)
        copy = replace(rows[first], channel=_channel(rng, text))
        rows.insert(rng.randint(first + 1, len(rows)), copy)
    for _ in range(BLANK_ROWS):
        blank = Row(
            review=None,
            sentiment="",
            topic="",
            product=rng.choice(PRODUCTS),
            lang="en",
            customer=_customer(rng, "en"),
            channel=rng.choice(["Email", "Web form"]),
        )
        rows.insert(rng.randint(1, len(rows)), blank)

    span = (LAST_DATE - FIRST_DATE).days
    dates = sorted(FIRST_DATE + dt.timedelta(days=rng.randint(0, span)) for _ in rows)
    for number, (row, date) in enumerate(zip(rows, dates, strict=True), start=1):
        row.id, row.date = f"FB-{number:04d}", date
    return rows


def _customer(rng: random.Random, lang: str) -> str:
    return f"{rng.choice(FIRST_NAMES[lang])} {rng.choice(LAST_NAMES[lang])}"


def _channel(rng: random.Random, text: str) -> str:
    channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    while channel == "Twitter" and len(text) > TWEET_LIMIT:
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    return channel


def _write_feedback(ws: Worksheet, rows: list[Row]) -> None:
    ws.append(["ID", "Date", "Customer", "Channel", "Product", "Review"])
    for row in rows:
        ws.append([row.id, row.date, row.customer, row.channel, row.product, row.review])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", [10, 12, 20, 17, 16, 90], strict=True):
        ws.column_dimensions[letter].width = width
    for (date_cell,) in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        date_cell.number_format = "yyyy-mm-dd"
    for (review_cell,) in ws.iter_rows(min_row=2, min_col=6, max_col=6):
        review_cell.alignment = Alignment(wrap_text=True, vertical="top")


def _write_config(ws: Worksheet) -> None:
    ws.append(CONFIG_HEADER)
    for row in CONFIG_ROWS:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    widths = [11, 11, 10, 10, 34, 60, 11, 9, 15, 55]
    for column, width in enumerate(widths, start=1):
        ws.column_dimensions[ws.cell(1, column).column_letter].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _check_examples_are_not_data() -> None:
    data = {text.casefold() for text, *_ in ENGLISH} | {t.casefold() for _, t, *_ in FOREIGN}
    for row in CONFIG_ROWS:
        for line in str(row[-1]).splitlines():
            assert line.split(" => ")[0].casefold() not in data, line


def main() -> None:
    _check_examples_are_not_data()
    rows = _rows(random.Random(SEED))

    wb = Workbook()
    feedback = wb.active
    feedback.title = "Feedback"
    _write_feedback(feedback, rows)
    _write_config(wb.create_sheet("sheetai"))
    wb.active = 0
    wb.save(XLSX_PATH)

    with LABELS_PATH.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "Sentiment", "Topic"])
        for row in rows:
            if row.review is not None:
                writer.writerow([row.id, row.sentiment, row.topic])


if __name__ == "__main__":
    main()
