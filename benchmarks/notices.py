"""Hirdetmények search with 100,000 public notices on PostgreSQL: free text, filtered lists and
searches that match nothing, each query through the service on one connection.

    python -m benchmarks.notices [--notices 100000] [--offices 200] [--queries 500]

A few notices are published through the real upload path first (REST, in-process ASGI app);
the rest are bulk-loaded in batches through SQL: a staging table filled by COPY, then one
statement per batch writing the document rows, the notices (their search column made by
``array_to_tsvector`` of the terms, as the repository does) and their first versions. Every
notice's terms come from ``domain.public_notices.search_terms``, as on the real path. The
texts are Hungarian administrative vocabulary drawn with a Zipf distribution (a few words in
every notice, a long tail of compounds found in a handful). Then ``services.public_notices.
search`` answers each kind of query many times on a one-connection pool, newest first, one
page of 20; the figures are compared with the targets of issue 31 (free text p99 < 50 ms,
filtered lists p99 < 20 ms, no match p99 < 50 ms) and written to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import json
import os
import random
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from argon2 import profiles

from benchmarks.run import ROOT, Scratch, scratch_database
from gateway.app import create_app
from gateway.config import Settings
from gateway.crypto import passwords
from gateway.domain.public_notices import (
    BUDAPEST,
    NoticeCursor,
    NoticeForm,
    NoticeQuery,
    kept_until,
    search_terms,
)
from gateway.notice_form import write_form
from gateway.services import public_notices
from gateway.services.parties import register_organisation
from gateway.services.ports import Ports
from gateway.storage.repositories.public_notices import SqlPublicNotices
from gateway.wiring import build_runtime

# --- Vocabulary -----------------------------------------------------------------------------

STOPWORDS = (
    "a az és hogy nem is egy valamint továbbá szerint alapján illetve vagy mint pedig meg "
    "ha amely amelyet amelynek ezt ennek azt annak ez által között során után előtt miatt "
    "részére napján napon belül kívül van volt lesz kell lehet csak már még minden"
).split()

STEMS = (
    "hatóság határozat kérelem eljárás ügyfél ingatlan építés engedély tulajdonos telek "
    "épület helyrajzi önkormányzat hivatal kormányhivatal járás közlemény hirdetmény "
    "értesítés döntés végzés fellebbezés jogorvoslat bíróság határidő kézbesítés közzététel "
    "irat betekintés nyilatkozat tárgyalás helyszín szemle szakhatóság vélemény környezet víz "
    "árvíz gát út híd vasút csatorna közmű gáz villamos energia hulladék zaj levegő talaj "
    "erdő mező park terület övezet szabályozás terv rendezés változás módosítás bejelentés "
    "hozzájárulás használatbavétel bontás felújítás bővítés átalakítás lakás ház üzlet iroda "
    "telephely üzem gyár raktár állattartás kút fúrás bánya homok kavics tó folyó patak part "
    "vízjog öntözés mezőgazdaság termelő gazda birtok föld szántó legelő rét szőlő "
    "gyümölcsös haszonbérlet adásvétel elővásárlás ajánlat vevő eladó örökös hagyaték "
    "végrendelet gyám gyermek szülő család támogatás ellátás segély nyugdíj adó adózó "
    "tartozás végrehajtás árverés foglalás követelés bírság szabálysértés közlekedés forgalom "
    "jármű parkoló gépjármű busz kerékpár járda behajtás lezárás terelés munka kivitelezés "
    "kivitelező beruházás beruházó pályázat közbeszerzés szerződés vállalkozó cég társaság "
    "egyesület alapítvány egyház iskola óvoda kórház rendelő gyógyszertár orvos egészség "
    "járvány állat kutya oltás vadászat halászat természet védett faj fészek madár növény "
    "fakivágás pótlás ültetés zöldfelület temető sír emlékmű műemlék régészet lelet ásatás "
    "örökség utca tér körút sor dűlő tanya külterület belterület kerület megye vármegye "
    "község város falu lakos lakosság polgár állampolgár személy név cím lakcím lakóhely "
    "tartózkodás idézés meghallgatás tanú szakértő jegyző polgármester képviselő testület "
    "ülés rendelet közgyűlés napirend jegyzőkönyv hirdetőtábla honlap közhírré tétel "
    "jogerő végrehajthatóság illeték díj költség számla fizetés átutalás bankszámla"
).split()

SUFFIXES_BACK = ("", "ot", "ban", "nak", "ról", "val", "ra", "i", "ok", "át", "ához", "ból",
                 "on", "ának", "ja", "ként", "ig")
SUFFIXES_FRONT = ("", "et", "ben", "nek", "ről", "vel", "re", "i", "ek", "ét", "éhez", "ből",
                  "en", "ének", "je", "ként", "ig")

CATEGORIES = (
    "Építésügy", "Környezetvédelem", "Hagyatéki eljárás", "Adóügy", "Gyámügy", "Közlekedés",
    "Vízügy", "Földügy", "Ingatlan-nyilvántartás", "Szociális ügyek", "Anyakönyv",
    "Kereskedelem", "Hulladékgazdálkodás", "Természetvédelem", "Népegészségügy",
)

SETTLEMENT_BASES = (
    "Budapest Debrecen Szeged Miskolc Pécs Győr Nyíregyháza Kecskemét Székesfehérvár "
    "Szombathely Szolnok Érd Tatabánya Kaposvár Sopron Veszprém Békéscsaba Zalaegerszeg Eger "
    "Nagykanizsa Dunaújváros Hódmezővásárhely Szigetszentmiklós Cegléd Baja Salgótarján Vác "
    "Gödöllő Ózd Szentendre Dunakeszi Hatvan Kiskunfélegyháza Jászberény Nagykőrös Gyöngyös "
    "Pápa Gyula Hajdúböszörmény Esztergom Kazincbarcika Budaörs Kiskunhalas Makó Orosháza "
    "Mosonmagyaróvár Várpalota Ajka Siófok Komló Tiszaújváros Balassagyarmat Keszthely "
    "Szekszárd Mohács Paks Tata Oroszlány Dombóvár Kalocsa Mezőtúr Karcag Berettyóújfalu "
    "Törökszentmiklós Tapolca Balatonfüred Fonyód Marcali Csorna Kapuvár Körmend Szentgotthárd "
    "Lenti Letenye Zalaszentgrót Sárvár Celldömölk Kőszeg Tamási Bonyhád Sásd Szigetvár "
    "Siklós Barcs Nagyatád Csurgó Tab Enying Sárbogárd Mór Bicske Gárdony Dabas Monor Nagykáta "
    "Aszód Szob Rétság Pásztó Bátonyterenye Heves Füzesabony Mezőkövesd Encs Szikszó Edelény "
    "Putnok Sátoraljaújhely Sárospatak Tokaj Tiszavasvári Mátészalka Fehérgyarmat Kisvárda "
    "Vásárosnamény Nyírbátor Balmazújváros Püspökladány Polgár Hajdúszoboszló Derecske "
    "Szarvas Szeghalom Sarkad Mezőkovácsháza Csongrád Szentes Kistelek Mórahalom Kiskőrös "
    "Kunszentmiklós Tiszakécske Bácsalmás Jánoshalma Kiskunmajsa Abony Zirc Sümeg Devecser"
).split()
SETTLEMENT_PREFIXES = ("", "Alsó", "Felső", "Kis", "Nagy", "Új", "Ó")

SURNAMES = (
    "Nagy Kovács Tóth Szabó Horváth Varga Kiss Molnár Németh Farkas Balogh Papp Takács Juhász "
    "Lakatos Mészáros Oláh Simon Rácz Fekete Szilágyi Török Fehér Balázs Gál Kis Szűcs "
    "Kocsis Orsós Pintér Fodor Szalai Sipos Magyar Lukács Gulyás Biró Király László Katona"
).split()
GIVEN_NAMES = (
    "László István József János Zoltán Sándor Gábor Ferenc Attila Péter Tamás Zsolt Tibor "
    "András Csaba Mária Erzsébet Katalin Éva Ilona Anna Zsuzsanna Margit Judit Ágnes Andrea "
    "Erika Krisztina Eszter Tünde Mónika Edit Gabriella Szilvia Anita Csilla Ildikó Rita"
).split()
MONTHS = ("január február március április május június július augusztus szeptember "
          "október november december").split()


# The long tail (most found in a few notices only): compounds of two stems with an ending,
# and 12 forms each of made-up stems.
COMPOUNDS = 20_000
MADE_UP_STEMS = 15_000
ONSETS = ("b", "c", "cs", "d", "f", "g", "gy", "h", "j", "k", "l", "m", "n", "ny", "p", "r",
          "s", "sz", "t", "ty", "v", "z", "zs", "")
VOWELS = ("a", "á", "e", "é", "i", "í", "o", "ó", "ö", "ő", "u", "ú", "ü", "ű")
CODAS = ("", "", "l", "n", "r", "s", "t", "k", "ny", "sz", "g", "m")
ZIPF_EXPONENT = 1.07


def _back(word: str) -> bool:
    """Whether the word's last vowel is a back one (Hungarian vowel harmony, roughly)."""
    for letter in reversed(word):
        if letter in "aáoóuú":
            return True
        if letter in "eéiíöőüű":
            return False
    return True


@functools.cache
def vocabulary(seed: int = 31) -> list[str]:
    """Word forms by rank (most frequent first): the stop words, then the stems with their
    endings, then a long tail of compounds of two stems."""
    rng = random.Random(seed)
    forms: list[str] = []
    for stem in STEMS:
        forms.extend(stem + suffix for suffix in (SUFFIXES_BACK if _back(stem)
                                                  else SUFFIXES_FRONT))
    rng.shuffle(forms)
    # The base forms come before their inflected forms, roughly as in real text.
    base = set(STEMS)
    forms.sort(key=lambda form: 0 if form in base else 1)
    # The tail: compounds of two stems, and word forms of made-up stems (Hungarian-looking
    # syllables): a real vocabulary has tens of thousands of stems with a few forms each,
    # so a typed word's prefix stands for dozens of terms, not for thousands.
    endings = ("", "i", "ról", "ban")
    compounds = sorted({
        first + second + (ending if _back(second) else
                          ending.replace("ó", "ő").replace("a", "e"))
        for first in STEMS for second in STEMS if first != second for ending in endings})
    made_up: set[str] = set()
    while len(made_up) < MADE_UP_STEMS:
        made_up.add("".join(rng.choice(ONSETS) + rng.choice(VOWELS)
                            for _ in range(rng.randint(2, 4))) + rng.choice(CODAS))
    forms_of_made_up = [stem + suffix for stem in sorted(made_up)
                        for suffix in rng.sample(SUFFIXES_BACK if _back(stem)
                                                 else SUFFIXES_FRONT, 12)]
    tail = rng.sample(compounds, COMPOUNDS) + forms_of_made_up
    rng.shuffle(tail)
    seen: set[str] = set()
    ranked = []
    for word in (*STOPWORDS, *forms, *tail):
        if word not in seen:
            seen.add(word)
            ranked.append(word)
    return ranked


@functools.cache
def zipf_weights(count: int, exponent: float = ZIPF_EXPONENT,
                 shift: float = 2.7) -> list[float]:
    """Cumulative Zipf–Mandelbrot weights of ranks 1..count."""
    total, cumulative = 0.0, []
    for rank in range(1, count + 1):
        total += 1 / (rank + shift) ** exponent
        cumulative.append(total)
    return cumulative


def settlements() -> list[str]:
    names = list(dict.fromkeys(
        f"{prefix}{base.lower() if prefix else base}" for prefix in SETTLEMENT_PREFIXES
        for base in SETTLEMENT_BASES))
    # Real names first (the most frequent), then the prefixed ones, to 500.
    return names[:500]


@dataclass(frozen=True)
class Office:
    id: int
    krid: str
    name: str
    settlement: str
    short_name: str


def office_plan(count: int) -> list[tuple[str, str, str, str]]:
    """(krid, short name, name, settlement) of each seeded office."""
    places = settlements()
    plan = []
    for number in range(count):
        place = places[number % len(places)]
        name = (f"{place} Polgármesteri Hivatal" if number % 8 else
                f"{place} Járási Hivatal")
        plan.append((f"{700_000_000 + number}", f"HIVATAL{number:03d}", name, place))
    return plan


# --- Notices --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """The display periods: notices start over the past ``span_days`` (and a few in the
    coming weeks); most are shown for 8 to 30 days, some for 60 or a year."""

    now: datetime
    span_days: int = 730
    future_share: float = 0.01
    lengths: tuple[tuple[int, float], ...] = ((8, 0.2), (15, 0.3), (30, 0.35), (60, 0.1),
                                              (365, 0.05))


def _sentence(rng: random.Random, words: list[str], cumulative: list[float],
              length: int) -> str:
    chosen = rng.choices(words, cum_weights=cumulative, k=length)
    chosen[0] = chosen[0].capitalize()
    return " ".join(chosen) + "."


def _text(rng: random.Random, words: list[str], cumulative: list[float], place: str,
          start: datetime) -> str:
    target = rng.randint(150, 450)
    sentences, count = [], 0
    while count < target:
        length = rng.randint(8, 22)
        sentences.append(_sentence(rng, words, cumulative, length))
        count += length
        if rng.random() < 0.15:
            sentences.append(f"{place}, {start.year}. {MONTHS[start.month - 1]} {start.day}.")
        if rng.random() < 0.1:
            sentences.append(f"Helyrajzi szám: {rng.randint(1, 9999)}/{rng.randint(1, 40)}.")
    return " ".join(sentences)


def notice_chunk(first: int, count: int, now_ts: float, offices: list[tuple[int, str, str]],
                 ) -> list[tuple[Any, ...]]:
    """Rows of the staging table for notices ``first`` .. ``first + count - 1`` (run in a
    worker process; each chunk is reproducible from its first number)."""
    rng = random.Random(first)
    shape = Shape(datetime.fromtimestamp(now_ts, UTC))
    words = vocabulary()
    cumulative = zipf_weights(len(words))
    content = words[len(STOPWORDS):]
    content_weights = zipf_weights(len(content))
    places = settlements()
    place_weights = zipf_weights(len(places), 0.9)
    category_weights = zipf_weights(len(CATEGORIES), 1.0, 1.0)
    office_weights = zipf_weights(len(offices), 0.8, 5.0)
    lengths = [days for days, _ in shape.lengths]
    length_weights = [share for _, share in shape.lengths]
    rows = []
    for number in range(first, first + count):
        office_id, office_name, office_place = rng.choices(offices,
                                                           cum_weights=office_weights)[0]
        if rng.random() < shape.future_share:
            start = shape.now + timedelta(days=rng.uniform(0.1, 30))
            published = shape.now - timedelta(days=rng.uniform(0, 3))
        else:
            start = shape.now - timedelta(days=rng.uniform(0, shape.span_days))
            published = start - timedelta(days=rng.uniform(0, 3))
        start = start.replace(microsecond=0)
        published = published.replace(microsecond=0)
        until = start + timedelta(days=rng.choices(lengths, weights=length_weights)[0])
        place = (office_place if rng.random() < 0.6
                 else rng.choices(places, cum_weights=place_weights)[0])
        category = rng.choices(CATEGORIES, cum_weights=category_weights)[0]
        subject_words = rng.choices(content, cum_weights=content_weights, k=rng.randint(3, 8))
        subject = " ".join(subject_words).capitalize()
        applicant = None
        if rng.random() < 0.6:
            applicant = (f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}"
                         if rng.random() < 0.5 else
                         f"{rng.choice(SURNAMES)}-{rng.choice(STEMS).capitalize()} Kft.")
        case_worker = (f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}"
                       if rng.random() < 0.8 else None)
        authority = (office_name if rng.random() < 0.7
                     else f"{office_place} Jegyzője")
        form = NoticeForm(
            identifier=f"H-{number}", correction=False, category=category, subject=subject,
            authority=authority, applicant=applicant,
            case_number=f"{place[:2].upper()}/{rng.randint(1, 99_999)}-"
                        f"{rng.randint(1, 9)}/{start.year}",
            settlement=place if rng.random() < 0.85 else None, case_worker=case_worker,
            display_from=start, display_until=until,
            text=_text(rng, words, cumulative, place, start))
        rows.append((
            number, office_id, form.identifier, form.category, form.subject, form.authority,
            form.applicant, form.case_number, form.settlement, form.case_worker,
            form.display_from, form.display_until, form.text, max(start, published),
            published, kept_until(form.display_until), search_terms(form, office_name)))
    return rows


STAGING = """
CREATE TEMPORARY TABLE notice_seed (
    n bigint, office_id bigint, identifier text, category text, subject text, authority text,
    applicant text, case_number text, settlement text, case_worker text,
    display_from timestamptz, display_until timestamptz, text text, listed_at timestamptz,
    published_at timestamptz, keep_until timestamptz, terms text[])
"""
STAGING_COLUMNS = ("n", "office_id", "identifier", "category", "subject", "authority",
                   "applicant", "case_number", "settlement", "case_worker", "display_from",
                   "display_until", "text", "listed_at", "published_at", "keep_until",
                   "terms")
CONTENT = ("category, subject, authority, applicant, case_number, settlement, case_worker, "
           "display_from, display_until, text, attachments")
# One batch: the documents that carried the forms (to the portal, taken at once), the notices
# with their search column, and each notice's first version pointing at its document.
SEED = f"""
WITH docs AS (
    INSERT INTO documents (registration_number, registered_at, valid_until, sender_id,
        recipient_id, sender_kind, doc_type_office, doc_type_id, doc_type_description,
        file_name, size, sha256, reply_encryption, return_receipt, system_message,
        delivery_state, acknowledged_at)
    SELECT 'BENCH' || lpad(s.n::text, 22, '0'), s.published_at, s.keep_until, s.office_id,
        $1, 'hivatali', 'HIRDETMENY', 'HIRDETMENY', 'Hirdetmény', 'hirdetmeny.xml',
        octet_length(s.text) + 1200, md5(s.n::text) || md5(s.identifier), false, false, false,
        'downloaded', s.published_at
    FROM notice_seed s
    RETURNING id, registration_number),
notices AS (
    INSERT INTO public_notices (office_id, identifier, version, {CONTENT}, listed_at,
        published_at, modified_at, keep_until, search)
    SELECT s.office_id, s.identifier, 1, s.category, s.subject, s.authority, s.applicant,
        s.case_number, s.settlement, s.case_worker, s.display_from, s.display_until, s.text,
        '[]', s.listed_at, s.published_at, NULL, s.keep_until, array_to_tsvector(s.terms)
    FROM notice_seed s
    RETURNING id, office_id, identifier)
INSERT INTO public_notice_versions (notice_id, number, document_id, received_at, {CONTENT})
SELECT n.id, 1, d.id, s.published_at, s.category, s.subject, s.authority, s.applicant,
    s.case_number, s.settlement, s.case_worker, s.display_from, s.display_until, s.text, '[]'
FROM notice_seed s
JOIN notices n ON n.office_id = s.office_id AND n.identifier = s.identifier
JOIN docs d ON d.registration_number = 'BENCH' || lpad(s.n::text, 22, '0')
"""


async def seed(dsn: str, portal_id: int, offices: list[Office], count: int, now: datetime,
               batch: int = 5000) -> None:
    """Generate the notices in two worker processes while this one loads the batches."""
    connection = await asyncpg.connect(dsn)
    loop = asyncio.get_running_loop()
    plain = [(office.id, office.name, office.settlement) for office in offices]
    try:
        await connection.execute(STAGING)
        # A bulk load collects the index entries in GIN's pending list and merges them once
        # (the VACUUM below); the migration's index has no pending list (fastupdate off) for
        # the notices arriving one by one.
        await connection.execute(
            "ALTER INDEX ix_public_notices_search SET (fastupdate = on)")
        with ProcessPoolExecutor(2) as pool:
            pending = [loop.run_in_executor(pool, notice_chunk, first,
                                            min(batch, count - first), now.timestamp(), plain)
                       for first in range(0, count, batch)]
            done = 0
            started = time.perf_counter()
            for chunk in pending:
                rows = await chunk
                async with connection.transaction():
                    await connection.copy_records_to_table(
                        "notice_seed", records=rows, columns=STAGING_COLUMNS)
                    await connection.execute(SEED, portal_id)
                    await connection.execute("TRUNCATE notice_seed")
                done += len(rows)
                rate = done / (time.perf_counter() - started)
                print(f"  {done:,} / {count:,} notices ({rate:,.0f}/s)", flush=True)
        await connection.execute("VACUUM ANALYZE public_notices")
        await connection.execute(
            "ALTER INDEX ix_public_notices_search SET (fastupdate = off)")
        # Autovacuum would have analysed the parties by now (200 offices registered).
        await connection.execute("ANALYZE parties")
        await connection.execute("VACUUM ANALYZE public_notice_versions")
        await connection.execute("ANALYZE documents")
    finally:
        await connection.close()


# --- The real path --------------------------------------------------------------------------

REAL_NOTICES = 5


async def prepare(scratch: Scratch, office_count: int) -> tuple[int, list[Office], dict[str, Any]]:
    """The portal (made at the app's start), the offices, and a few notices published through
    the REST door by one of them. Returns the portal's id, the offices and the real notices'
    shape."""
    settings = Settings(database_url=scratch.url, data_dir=scratch.workdir,
                        background_jobs=False, admission_control=False)
    app = create_app(settings)
    # The app logs each request as a JSON line on standard output: not this report's.
    with contextlib.redirect_stdout(io.StringIO()):
        return await _prepare(app, settings, scratch, office_count)


async def _prepare(app: Any, settings: Settings, scratch: Scratch, office_count: int,
                   ) -> tuple[int, list[Office], dict[str, Any]]:
    ports: Ports = app.state.ports
    plan = office_plan(office_count)
    async with app.router.lifespan_context(app):
        publisher = await register_organisation(ports, krid=plan[0][0], short_name=plan[0][1],
                                                name=plan[0][2])
        # The other offices never log in: argon2's cheapest profile spares a minute.
        passwords.use_parameters(profiles.CHEAPEST)
        for krid, short_name, name, _ in plan[1:]:
            await register_organisation(ports, krid=krid, short_name=short_name, name=name)
        now = datetime.now(UTC).replace(microsecond=0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kapu.bench") as client:
            rng = random.Random(7)
            for number in range(REAL_NOTICES):
                [row] = notice_chunk(10_000_000 + number, 1, now.timestamp(), [(0, plan[0][2],
                                                                                 plan[0][3])])
                form = NoticeForm(
                    identifier=f"REAL-{number}", correction=False, category=row[3],
                    subject=row[4], authority=row[5], applicant=row[6], case_number=row[7],
                    settlement=row[8], case_worker=row[9],
                    display_from=now - timedelta(days=rng.randint(0, 5)),
                    display_until=now + timedelta(days=30), text=row[12])
                sent = await client.post(
                    "/api/v1/documents", auth=(publisher.username, publisher.password),
                    data={"recipient_krid": settings.portal_krid,
                          "doc_type_office": "HIRDETMENY", "doc_type_id": "HIRDETMENY",
                          "doc_type_description": "Hirdetmény"},
                    files={"file": ("hirdetmeny.xml", write_form(form, []),
                                    "application/xml")})
                if sent.status_code != 201:
                    raise SystemExit(f"publishing through REST failed: {sent.text}")
    connection = await asyncpg.connect(scratch.dsn)
    try:
        portal_id = await connection.fetchval("SELECT id FROM parties WHERE krid = $1",
                                              settings.portal_krid)
        rows = await connection.fetch("SELECT id, krid, name FROM parties WHERE krid = ANY($1)",
                                      [krid for krid, *_ in plan])
        by_krid = {row["krid"]: row for row in rows}
        offices = [Office(by_krid[krid]["id"], krid, name, place, short_name)
                   for krid, short_name, name, place in plan]
        real = await shape_of(connection, "identifier LIKE 'REAL-%'")
    finally:
        await connection.close()
    return portal_id, offices, real


async def shape_of(connection: asyncpg.Connection, where: str) -> dict[str, Any]:
    """How the notices matching ``where`` look in storage: their search column, text, the
    document rows behind their versions."""
    row = await connection.fetchrow(f"""
        SELECT count(*) AS notices, round(avg(length(n.search))) AS lexemes,
            round(avg(pg_column_size(n.search))) AS search_bytes,
            round(avg(length(n.text))) AS text_chars,
            count(*) FILTER (WHERE n.version = 1) AS first_versions,
            string_agg(DISTINCT d.delivery_state, ',') AS document_states,
            bool_and(d.acknowledged_at IS NOT NULL) AS taken_by_portal,
            bool_and(d.valid_until = n.keep_until) AS kept_as_long
        FROM public_notices n
        JOIN public_notice_versions v ON v.notice_id = n.id
        JOIN documents d ON d.id = v.document_id
        WHERE {where}""")
    return dict(row)


# --- Measuring ------------------------------------------------------------------------------

@dataclass
class Figures:
    kind: str  # free text, filtered, no match
    name: str
    queries: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_items: float
    target_ms: float
    load_average: float = 0.0  # the machine's, over the last minute, when the kind ended

    @property
    def met(self) -> bool:
        return self.p99_ms < self.target_ms


@dataclass
class Result:
    started: str
    notices: int
    offices: int
    shown_now: int
    ended: int
    not_yet_shown: int
    seed_seconds: float
    real_shape: dict[str, Any]
    seeded_shape: dict[str, Any]
    figures: list[Figures] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)  # before the queries
    identical: list[int] = field(default_factory=lambda: [0, 0])  # same_answers


TARGETS = {"free text": 50.0, "filtered": 20.0, "no match": 50.0}


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold())
                   if not unicodedata.combining(c))


def _variant(rng: random.Random, word: str) -> str:
    """The word as someone might type it: upper case, capitalised or without accents."""
    return rng.choice((word.upper(), word.capitalize(), _fold(word), _fold(word).upper()))


def query_sets(rng: random.Random, count: int, offices: list[Office],
               shown_cursors: list[NoticeCursor], today: date,
               ) -> list[tuple[str, str, list[NoticeQuery]]]:
    words = vocabulary()
    content = words[len(STOPWORDS):]
    common = [w for w in content[:150] if len(w) >= 3][:100]
    middle = content[200:3000]
    rare = content[50_000:]  # each in a few dozen notices at most
    places = settlements()

    def many(make: Callable[[], NoticeQuery]) -> list[NoticeQuery]:
        return [make() for _ in range(count)]

    def period() -> dict[str, date]:
        # Half look back (what was shown lately), half ahead (what will still be shown).
        start = today + timedelta(days=rng.randint(-60, 0) if rng.random() < 0.5
                                  else rng.randint(1, 90))
        return {"period_from": start, "period_to": start + timedelta(days=rng.randint(0, 30))}

    def office() -> str:
        return rng.choice(offices).krid

    return [
        ("free text", "common word", many(lambda: NoticeQuery(text=rng.choice(common)))),
        ("free text", "rare word", many(lambda: NoticeQuery(text=rng.choice(rare)))),
        ("free text", "two words", many(lambda: NoticeQuery(
            text=" ".join(rng.sample(middle[:800], 1) + rng.sample(common, 1))))),
        ("free text", "three words", many(lambda: NoticeQuery(
            text=" ".join(rng.sample(common, 2) + rng.sample(middle, 1))))),
        ("free text", "3-letter prefix", many(lambda: NoticeQuery(
            text=_fold(rng.choice(common + middle[:300]))[:3]))),
        ("free text", "accents / upper case", many(lambda: NoticeQuery(
            text=_variant(rng, rng.choice(common + middle[:500]))))),
        ("free text", "word + office", many(lambda: NoticeQuery(
            text=rng.choice(common + middle[:300]), office_krid=office()))),
        ("filtered", "first page", many(NoticeQuery)),
        ("filtered", "deep page (cursor)", many(lambda: NoticeQuery(
            after=rng.choice(shown_cursors)))),
        ("filtered", "office", many(lambda: NoticeQuery(office_krid=office()))),
        ("filtered", "category", many(lambda: NoticeQuery(category=rng.choice(CATEGORIES)))),
        ("filtered", "settlement", many(lambda: NoticeQuery(
            settlement=rng.choice(places)))),
        ("filtered", "period", many(lambda: NoticeQuery(**period()))),
        ("filtered", "office + category", many(lambda: NoticeQuery(
            office_krid=office(), category=rng.choice(CATEGORIES)))),
        ("filtered", "category + settlement + period", many(lambda: NoticeQuery(
            category=rng.choice(CATEGORIES), settlement=rng.choice(places[:50]),
            **period()))),
        ("no match", "unknown word", many(lambda: NoticeQuery(
            text="".join(rng.choice("qxyzw") for _ in range(3)) + rng.choice(common)))),
        ("no match", "known word + unknown word", many(lambda: NoticeQuery(
            text=f"{rng.choice(common)} zzq{rng.randint(0, 99999)}"))),
    ]


async def measure(ports: Ports, kind: str, name: str,
                  queries: list[NoticeQuery]) -> Figures:
    times, items = [], []
    for query in queries:
        started = time.perf_counter()
        page = await public_notices.search(ports, query)
        times.append((time.perf_counter() - started) * 1000)
        items.append(len(page.items))
    times.sort()
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return Figures(kind, name, len(times), round(statistics.median(times), 2),
                   round(cuts[94], 2), round(cuts[98], 2), round(times[-1], 2),
                   round(statistics.mean(items), 1), TARGETS[kind], round(os.getloadavg()[0], 1))


async def same_answers(ports: Ports, queries: list[NoticeQuery]) -> list[int]:
    """[same, compared]: the pages found with the probe of the newest notices (as shipped)
    against those of the full-text index alone (the search's plain form)."""
    same = 0
    for query in queries:
        probed = await public_notices.search(ports, query)
        SqlPublicNotices.probe_rows, shipped = 0, SqlPublicNotices.probe_rows
        try:
            plain = await public_notices.search(ports, query)
        finally:
            SqlPublicNotices.probe_rows = shipped
        if ([n.id for n in probed.items], probed.next_cursor) == (
                [n.id for n in plain.items], plain.next_cursor):
            same += 1
    return [same, len(queries)]


class Statements:
    """The last statement the engine sent, to EXPLAIN it as it was run."""

    def __init__(self) -> None:
        self.last: tuple[str, Any] = ("", ())

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                 _context: Any, _many: bool) -> None:
        self.last = (statement, parameters)


async def explain(ports: Ports, engine: Any, statements: Statements,
                  query: NoticeQuery) -> str:
    await public_notices.search(ports, query)
    statement, parameters = statements.last
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        return "\n".join(row[0] for row in result)


async def run_queries(scratch: Scratch, offices: list[Office], count: int,
                      result: Result) -> None:
    from sqlalchemy import event

    settings = Settings(database_url=scratch.url, data_dir=scratch.workdir,
                        background_jobs=False, database_pool_size=1)
    runtime = build_runtime(settings)
    statements = Statements()
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", statements)
    try:
        connection = await asyncpg.connect(scratch.dsn)
        try:
            rows = await connection.fetch(
                "SELECT listed_at, id FROM public_notices WHERE listed_at <= now() "
                "AND display_until > now() ORDER BY listed_at DESC, id DESC")
        finally:
            await connection.close()
        # Cursors from halfway down the shown list to its last page.
        cursors = [NoticeCursor(row["listed_at"], row["id"])
                   for row in rows[len(rows) // 2:-20]]
        today = datetime.now(BUDAPEST).date()
        sets = query_sets(random.Random(31), count, offices, cursors, today)
        # Warm-up: the pool's connection, the statement cache, the table's pages.
        for _, _, queries in sets:
            for query in queries[:10]:
                await public_notices.search(runtime.ports, query)
        for kind, name, queries in sets:
            figures = await measure(runtime.ports, kind, name, queries)
            result.figures.append(figures)
            print(f"  {kind:9} {name:32} p50 {figures.p50_ms:6.1f}  p95 {figures.p95_ms:6.1f}"
                  f"  p99 {figures.p99_ms:6.1f} ms  ({figures.mean_items:.1f} found; load "
                  f"{figures.load_average:.1f})", flush=True)
        result.identical = await same_answers(runtime.ports, [
            query for _, _, queries in sets for query in queries[:20]])
        for name, query in (("no match", NoticeQuery(text="qxzwy")),
                            ("common word", NoticeQuery(text=sets[0][2][0].text)),
                            ("rare word", NoticeQuery(text=sets[1][2][0].text)),
                            ("3-letter prefix", NoticeQuery(text=sets[4][2][0].text))):
            result.plans[f"{name}: q={query.text}"] = await explain(
                runtime.ports, runtime.engine, statements, query)
    finally:
        await runtime.engine.dispose()


async def census(dsn: str) -> tuple[int, int, int, dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE listed_at <= now() AND display_until > now()) AS shown,"
            " count(*) FILTER (WHERE display_until <= now()) AS ended,"
            " count(*) FILTER (WHERE listed_at > now()) AS future FROM public_notices")
        seeded = await shape_of(connection, "n.identifier NOT LIKE 'REAL-%'")
    finally:
        await connection.close()
    return row["shown"], row["ended"], row["future"], seeded


def report(result: Result) -> bool:
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = out_dir / f"notices-{stamp}.json"
    path.write_text(json.dumps(asdict(result), indent=2, default=str))
    total = result.notices
    print(f"\n== hirdetmények search, PostgreSQL, {result.started}; load average before the "
          f"queries {', '.join(f'{x:.1f}' for x in result.load_average)} ==")
    print(f"{total:,} notices of {result.offices} offices: {result.shown_now:,} shown now "
          f"({result.shown_now / total:.1%}), {result.ended:,} ended "
          f"({result.ended / total:.1%}), {result.not_yet_shown:,} not yet shown; "
          f"seeded in {result.seed_seconds:.0f} s")
    print("stored shape, through REST / bulk-seeded:")
    for key, real in result.real_shape.items():
        print(f"  {key:16} {real!s:>12} / {result.seeded_shape[key]!s}")
    same, compared = result.identical
    print(f"the same pages with and without the probe of the newest notices: {same} of "
          f"{compared} queries")
    for name, plan in result.plans.items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS), {name}:\n{plan}")
    print("\n| kind | query | p50 ms | p95 ms | p99 ms | max ms | found | target p99 | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in result.figures:
        print(f"| {f.kind} | {f.name} | {f.p50_ms:.1f} | {f.p95_ms:.1f} | **{f.p99_ms:.1f}** "
              f"| {f.max_ms:.1f} | {f.mean_items:.1f} | < {f.target_ms:.0f} "
              f"{'ok' if f.met else 'MISSED'} | {f.load_average:.1f} |")
    failures = [f for f in result.figures if not f.met]
    seq_scan = [name for name, plan in result.plans.items()
                if name.startswith("no match") and "Seq Scan on public_notices" in plan]
    for f in failures:
        print(f"MISSED: {f.kind}, {f.name}: p99 {f.p99_ms:.1f} ms (target < {f.target_ms:.0f})")
    for name in seq_scan:
        print(f"MISSED: {name} scans the whole table")
    if same != compared:
        print(f"MISSED: {compared - same} queries found other pages without the probe")
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return not failures and not seq_scan and same == compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--offices", type=int, default=200)
    parser.add_argument("--queries", type=int, default=500, help="queries of each kind")
    parser.add_argument("--keep", action="store_true",
                        help="print the scratch database's DSN and wait before dropping it")
    args = parser.parse_args()
    with scratch_database("kapu_notices") as scratch:
        ok = _run(args, scratch)
    if not ok:
        sys.exit(1)


def _run(args: argparse.Namespace, scratch: Scratch) -> bool:
    started = datetime.now(UTC)
    print(f"registering {args.offices} offices, publishing {REAL_NOTICES} notices "
          "through REST …", flush=True)
    portal_id, offices, real = asyncio.run(prepare(scratch, args.offices))
    print(f"seeding {args.notices:,} notices …", flush=True)
    seeding = time.perf_counter()
    asyncio.run(seed(scratch.dsn, portal_id, offices, args.notices, started))
    seed_seconds = time.perf_counter() - seeding
    shown, ended, future, seeded = asyncio.run(census(scratch.dsn))
    result = Result(started.isoformat(timespec="seconds"), args.notices + REAL_NOTICES,
                    args.offices, shown, ended, future, round(seed_seconds, 1), real, seeded)
    result.load_average = os.getloadavg()
    print(f"{args.queries} queries of each kind, one connection (load average "
          f"{result.load_average[0]:.1f}) …", flush=True)
    asyncio.run(run_queries(scratch, offices, args.queries, result))
    if args.keep:
        input(f"scratch database {scratch.dsn}; press Enter to drop it ")
    return report(result)


if __name__ == "__main__":
    main()
