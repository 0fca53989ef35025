# ruff: noqa: RUF001 - Turkish names and places are spelt with the dotless i on purpose
"""Where customers live: cities, postcodes, streets, phone plans and mailbox providers per country.

Data only. Postcodes follow each country's format (DE five digits, NL "1234 AB", GB "SW1A 1AA",
PL "00-950", ...). Province codes are given only where Shopify has zones for the country (US, ES, IT);
elsewhere Shopify drops them, so the generator writes null.
"""

from dataclasses import dataclass

from .draw import Weighted


@dataclass(frozen=True, slots=True)
class City:
    name: str
    postcode_low: int  # numeric postcode range (GB: index into outward codes)
    postcode_high: int
    province_code: str | None = None
    area_codes: tuple[str, ...] = ()  # US only: the city's telephone area codes


@dataclass(frozen=True, slots=True)
class PhonePlan:
    """Valid national significant numbers: a prefix then `digits` random digits."""

    calling_code: str
    mobile: tuple[tuple[str, int], ...]
    landline: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    language: str  # Shopify customer locale
    cities: tuple[City, ...]
    streets: tuple[str, ...]
    number_first: bool  # "12 rue de la Paix" rather than "Hauptstraße 12"
    address2: tuple[str, ...]  # patterns; {n} is a small number
    phone: PhonePlan
    providers: tuple[tuple[str, int], ...]  # mailbox domain, weight
    tld: str
    name_locales: tuple[tuple[str, int], ...]  # who lives there, by name locale


def _cities(*rows: tuple) -> tuple[City, ...]:
    return tuple(City(*row) for row in rows)


def _plan(cc: str, mobile: str, landline: str) -> PhonePlan:
    """`mobile`/`landline` are "prefix:digits" lists, e.g. "151:8 160:7"."""

    def parse(spec: str) -> tuple[tuple[str, int], ...]:
        return tuple((p, int(d)) for p, d in (item.split(":") for item in spec.split()))

    return PhonePlan(cc, parse(mobile), parse(landline))


def _weights(spec: str) -> Weighted:
    return Weighted((k, int(w)) for k, w in (item.split("=") for item in spec.split()))


GB_OUTWARD = [
    "SW1A",
    "E1",
    "N1",
    "W1D",
    "SE1",
    "NW3",
    "EC1A",
    "WC2H",
    "SW11",
    "E14",
    "N16",
    "W4",
    "M1",
    "M4",
    "M20",
    "B1",
    "B15",
    "B29",
    "LS1",
    "LS6",
    "LS17",
    "G1",
    "G12",
    "G41",
    "L1",
    "L8",
    "L17",
    "BS1",
    "BS6",
    "BS8",
    "EH1",
    "EH3",
    "EH10",
    "S1",
    "S10",
    "S11",
    "CF10",
    "CF11",
    "CF24",
]
GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

COUNTRIES: dict[str, Country] = {
    "DE": Country(
        "DE",
        "de",
        _cities(
            ("Berlin", 10115, 14199),
            ("Hamburg", 20095, 22769),
            ("München", 80331, 81929),
            ("Köln", 50667, 51149),
            ("Frankfurt am Main", 60306, 60599),
            ("Stuttgart", 70173, 70629),
            ("Düsseldorf", 40210, 40629),
            ("Leipzig", 4103, 4357),
            ("Dortmund", 44135, 44388),
            ("Essen", 45127, 45359),
            ("Bremen", 28195, 28779),
            ("Dresden", 1067, 1328),
            ("Hannover", 30159, 30669),
            ("Nürnberg", 90402, 90491),
            ("Duisburg", 47051, 47279),
            ("Bochum", 44787, 44894),
            ("Münster", 48143, 48167),
            ("Freiburg im Breisgau", 79098, 79117),
            ("Augsburg", 86150, 86199),
            ("Würzburg", 97070, 97084),
            ("Lübeck", 23552, 23570),
            ("Göttingen", 37073, 37085),
            ("Bonn", 53111, 53229),
            ("Mannheim", 68159, 68309),
        ),
        (
            "Hauptstraße",
            "Bahnhofstraße",
            "Schulstraße",
            "Gartenstraße",
            "Dorfstraße",
            "Bergstraße",
            "Lindenstraße",
            "Kirchstraße",
            "Waldstraße",
            "Ringstraße",
            "Goethestraße",
            "Schillerstraße",
            "Am Markt",
            "Mühlenweg",
            "Birkenweg",
            "Rosenweg",
            "Friedrichstraße",
            "Kastanienallee",
            "Sonnenallee",
            "Lessingstraße",
            "Uhlandstraße",
            "Beethovenstraße",
            "Mozartstraße",
            "Feldstraße",
            "Wiesenweg",
            "Am Sportplatz",
            "Hochstraße",
            "Parkstraße",
            "Talstraße",
            "Kaiserstraße",
            "Königsallee",
            "Jahnstraße",
            "Eichendorffstraße",
            "Heinrich-Heine-Straße",
        ),
        False,
        ("{n}. OG", "Hinterhaus", "c/o {surname}", "Wohnung {n}", "Aufgang {letter}"),
        _plan(
            "49",
            "151:8 152:8 157:8 159:8 160:7 162:7 163:7 170:7 171:7 172:7 173:7 174:7 175:7 176:8 177:7 178:7 179:7",
            "30:8 40:8 89:8 221:7 69:8 711:7 211:7 341:7",
        ),
        _weights(
            "gmail.com=28 web.de=18 gmx.de=16 t-online.de=8 icloud.com=6 outlook.com=4 hotmail.com=3 "
            "hotmail.de=2 yahoo.de=3 gmx.net=4 freenet.de=2 posteo.de=1 outlook.de=2 mail.de=1 aol.com=1"
        ),
        "de",
        _weights("de=80 tr=5 pl=4 it=2 ru=3 el=1 ar=2 en=1 fr=1 es=1 zh=1"),
    ),
    "AT": Country(
        "AT",
        "de",
        _cities(
            ("Wien", 1010, 1230),
            ("Graz", 8010, 8055),
            ("Linz", 4020, 4040),
            ("Salzburg", 5020, 5026),
            ("Innsbruck", 6020, 6080),
            ("Klagenfurt am Wörthersee", 9020, 9073),
        ),
        (
            "Hauptplatz",
            "Mariahilfer Straße",
            "Landstraße",
            "Bahnhofstraße",
            "Kirchengasse",
            "Schulgasse",
            "Grabenweg",
            "Linzer Straße",
            "Wiener Straße",
            "Herrengasse",
        ),
        False,
        ("Top {n}", "Stiege {n}", "Tür {n}"),
        _plan("43", "650:7 660:7 664:7 676:7 680:7 681:7 699:8", "1:7 316:6 732:6 662:6"),
        _weights(
            "gmail.com=30 gmx.at=20 aon.at=10 chello.at=5 hotmail.com=8 icloud.com=6 yahoo.com=5 outlook.com=6 a1.net=5"
        ),
        "at",
        _weights("de=85 tr=4 pl=2 ru=2 en=1 it=2 el=1 ar=2 zh=1"),
    ),
    "CH": Country(
        "CH",
        "de",
        _cities(
            ("Zürich", 8001, 8099),
            ("Genève", 1201, 1299),
            ("Basel", 4001, 4059),
            ("Bern", 3001, 3030),
            ("Lausanne", 1003, 1018),
            ("Luzern", 6002, 6015),
        ),
        (
            "Bahnhofstrasse",
            "Hauptstrasse",
            "Dorfstrasse",
            "Rue du Rhône",
            "Kirchweg",
            "Seestrasse",
            "Rue de Lausanne",
            "Landstrasse",
            "Schulhausstrasse",
            "Avenue de la Gare",
        ),
        False,
        ("Postfach {n}", "{n}. Stock"),
        _plan("41", "76:7 77:7 78:7 79:7", "44:7 22:7 61:7 31:7"),
        _weights(
            "gmail.com=30 bluewin.ch=25 gmx.ch=10 hotmail.com=8 icloud.com=8 outlook.com=6 sunrise.ch=5 yahoo.com=4"
        ),
        "ch",
        _weights("de=60 fr=20 it=10 en=3 tr=2 pl=1 ru=2 ar=1 zh=1"),
    ),
    "FR": Country(
        "FR",
        "fr",
        _cities(
            ("Paris", 75001, 75020),
            ("Marseille", 13001, 13016),
            ("Lyon", 69001, 69009),
            ("Toulouse", 31000, 31500),
            ("Nice", 6000, 6300),
            ("Nantes", 44000, 44300),
            ("Strasbourg", 67000, 67200),
            ("Montpellier", 34000, 34090),
            ("Bordeaux", 33000, 33800),
            ("Lille", 59000, 59800),
            ("Rennes", 35000, 35700),
            ("Reims", 51100, 51100),
        ),
        (
            "rue de la Paix",
            "avenue des Champs-Élysées",
            "rue Victor Hugo",
            "boulevard Saint-Michel",
            "rue de la République",
            "place de la Mairie",
            "rue Pasteur",
            "rue du Moulin",
            "avenue Jean Jaurès",
            "rue de l'Église",
            "chemin des Vignes",
            "rue Nationale",
            "boulevard Voltaire",
            "rue Gambetta",
            "allée des Tilleuls",
            "impasse des Lilas",
        ),
        True,
        ("Bâtiment {letter}", "Appartement {n}", "Résidence les Pins", "{n}e étage"),
        _plan(
            "33",
            "60:7 61:7 62:7 62:7 64:7 65:7 66:7 67:7 68:7 73:7 74:7 75:7 76:7 77:7 78:7",
            "1:8 2:8 3:8 4:8 5:8",
        ),
        _weights(
            "gmail.com=30 orange.fr=15 hotmail.fr=10 free.fr=8 yahoo.fr=6 sfr.fr=5 laposte.net=5 "
            "outlook.fr=4 wanadoo.fr=4 icloud.com=5 hotmail.com=3 live.fr=3 bbox.fr=2"
        ),
        "fr",
        _weights("fr=82 ar=6 es=2 it=2 en=2 pl=1 tr=1 ru=1 zh=2 de=1"),
    ),
    "BE": Country(
        "BE",
        "nl",
        _cities(
            ("Bruxelles", 1000, 1210),
            ("Antwerpen", 2000, 2660),
            ("Gent", 9000, 9052),
            ("Liège", 4000, 4032),
            ("Brugge", 8000, 8310),
            ("Leuven", 3000, 3012),
        ),
        (
            "Kerkstraat",
            "Stationsstraat",
            "Rue Neuve",
            "Dorpsstraat",
            "Avenue Louise",
            "Nieuwstraat",
            "Rue de la Station",
            "Molenstraat",
            "Grote Markt",
            "Rue Haute",
        ),
        False,
        ("bus {n}", "boîte {n}"),
        _plan(
            "32",
            "470:6 471:6 472:6 473:6 474:6 475:6 476:6 477:6 478:6 479:6 484:6 485:6 486:6 487:6 488:6 489:6 495:6 496:6 497:6 498:6 499:6",
            "2:7 3:7 92:6 93:6",
        ),
        _weights(
            "gmail.com=30 telenet.be=15 skynet.be=10 hotmail.com=10 proximus.be=5 outlook.com=6 icloud.com=5 yahoo.com=4 live.be=3"
        ),
        "be",
        _weights("nl=45 fr=40 ar=5 tr=3 it=2 pl=2 en=1 de=1 es=1"),
    ),
    "NL": Country(
        "NL",
        "nl",
        _cities(
            ("Amsterdam", 1011, 1109),
            ("Rotterdam", 3011, 3089),
            ("Den Haag", 2491, 2597),
            ("Utrecht", 3511, 3585),
            ("Eindhoven", 5611, 5658),
            ("Groningen", 9711, 9747),
            ("Tilburg", 5011, 5049),
            ("Almere", 1311, 1363),
            ("Breda", 4811, 4841),
        ),
        (
            "Kerkstraat",
            "Dorpsstraat",
            "Stationsweg",
            "Molenstraat",
            "Schoolstraat",
            "Julianastraat",
            "Beatrixlaan",
            "Prinsengracht",
            "Keizersgracht",
            "Hoofdstraat",
            "Wilhelminastraat",
            "Nieuweweg",
            "Kastanjelaan",
            "Marktplein",
            "Eikenlaan",
        ),
        False,
        ("{n} hoog", "huis", "bis", "{letter}"),
        _plan("31", "61:7 62:7 63:7 64:7 65:7", "20:7 10:7 70:7 30:7 40:7"),
        _weights(
            "gmail.com=32 hotmail.com=18 outlook.com=8 live.nl=8 ziggo.nl=8 kpnmail.nl=6 icloud.com=6 hotmail.nl=5 planet.nl=3 xs4all.nl=2 home.nl=2"
        ),
        "nl",
        _weights("nl=82 tr=5 ar=4 pl=2 de=2 en=2 zh=1 fr=1 it=1"),
    ),
    "ES": Country(
        "ES",
        "es",
        _cities(
            ("Madrid", 28001, 28080, "M"),
            ("Barcelona", 8001, 8042, "B"),
            ("Valencia", 46001, 46026, "V"),
            ("Sevilla", 41001, 41020, "SE"),
            ("Zaragoza", 50001, 50021, "Z"),
            ("Málaga", 29001, 29018, "MA"),
            ("Bilbao", 48001, 48015, "BI"),
            ("Palma", 7001, 7015, "PM"),
            ("Murcia", 30001, 30012, "MU"),
            ("Alicante", 3001, 3016, "A"),
            ("Valladolid", 47001, 47016, "VA"),
            ("A Coruña", 15001, 15011, "C"),
        ),
        (
            "Calle Mayor",
            "Calle Real",
            "Avenida de la Constitución",
            "Calle de Alcalá",
            "Gran Vía",
            "Calle del Sol",
            "Plaza de España",
            "Calle San José",
            "Avenida de Andalucía",
            "Calle Nueva",
            "Paseo de Gracia",
            "Calle de la Iglesia",
            "Calle Santa María",
            "Rambla de Catalunya",
        ),
        False,
        ("{n}º {letter}", "piso {n}", "bajo", "escalera {n}", "puerta {n}"),
        _plan("34", "6:8 71:7 72:7 73:7 74:7", "91:7 93:7 96:7 95:7 94:7"),
        _weights(
            "gmail.com=38 hotmail.com=18 hotmail.es=10 yahoo.es=7 outlook.es=6 outlook.com=4 icloud.com=5 telefonica.net=3 live.com=3 movistar.es=2"
        ),
        "es",
        _weights("es=84 ar=5 en=3 it=2 fr=2 ru=1 zh=1 de=1 pl=1"),
    ),
    "IT": Country(
        "IT",
        "it",
        _cities(
            ("Roma", 118, 199, "RM"),
            ("Milano", 20121, 20162, "MI"),
            ("Napoli", 80121, 80147, "NA"),
            ("Torino", 10121, 10156, "TO"),
            ("Palermo", 90121, 90151, "PA"),
            ("Genova", 16121, 16167, "GE"),
            ("Bologna", 40121, 40141, "BO"),
            ("Firenze", 50121, 50145, "FI"),
            ("Bari", 70121, 70132, "BA"),
            ("Catania", 95121, 95131, "CT"),
            ("Venezia", 30121, 30176, "VE"),
            ("Verona", 37121, 37142, "VR"),
        ),
        (
            "Via Roma",
            "Via Garibaldi",
            "Via Mazzini",
            "Corso Vittorio Emanuele II",
            "Via Dante",
            "Piazza del Duomo",
            "Via Cavour",
            "Via Verdi",
            "Via XX Settembre",
            "Via Marconi",
            "Via della Repubblica",
            "Viale Europa",
            "Via San Francesco",
            "Corso Italia",
        ),
        False,
        ("Scala {letter}", "Interno {n}", "Piano {n}"),
        _plan(
            "39",
            "320:7 324:7 327:7 328:7 329:7 330:7 331:7 333:7 334:7 335:7 338:7 339:7 340:7 345:7 "
            "346:7 347:7 348:7 349:7 351:7 366:7 380:7 388:7 389:7 392:7 393:7",
            "06:8 02:8 011:7 055:7 081:7",
        ),
        _weights(
            "gmail.com=36 libero.it=15 hotmail.it=10 yahoo.it=7 virgilio.it=6 alice.it=5 outlook.it=4 tiscali.it=3 icloud.com=5 live.it=3 email.it=2"
        ),
        "it",
        _weights("it=86 ar=3 ru=1 es=2 fr=1 en=2 zh=2 pl=1 de=1 el=1"),
    ),
    "GB": Country(
        "GB",
        "en",
        _cities(
            ("London", 0, 11),
            ("Manchester", 12, 14),
            ("Birmingham", 15, 17),
            ("Leeds", 18, 20),
            ("Glasgow", 21, 23),
            ("Liverpool", 24, 26),
            ("Bristol", 27, 29),
            ("Edinburgh", 30, 32),
            ("Sheffield", 33, 35),
            ("Cardiff", 36, 38),
        ),
        (
            "High Street",
            "Station Road",
            "Church Street",
            "Victoria Road",
            "Park Avenue",
            "Green Lane",
            "Manor Road",
            "The Crescent",
            "Kings Road",
            "Queen Street",
            "Mill Lane",
            "London Road",
            "Church Lane",
            "Springfield Road",
            "York Road",
            "Windsor Close",
        ),
        True,
        ("Flat {n}", "Apartment {n}", "Unit {n}", "{n} Floor"),
        _plan(
            "44",
            "73:8 74:8 75:8 78:8 790:7 792:7 793:7 794:7 795:7 796:7 797:7 798:7",
            "203:7 207:7 208:7 161:7 121:7 113:7 141:7",
        ),
        _weights(
            "gmail.com=32 hotmail.co.uk=14 yahoo.co.uk=8 outlook.com=8 btinternet.com=7 icloud.com=8 hotmail.com=6 live.co.uk=5 sky.com=4 aol.com=2 talktalk.net=2 virginmedia.com=2"
        ),
        "co.uk",
        _weights("en=84 pl=4 ar=3 zh=2 fr=1 it=1 es=1 tr=1 ru=1 el=1 de=1"),
    ),
    "US": Country(
        "US",
        "en",
        _cities(
            ("New York", 10001, 10282, "NY", ("212", "646", "917", "718")),
            ("Los Angeles", 90001, 90089, "CA", ("213", "310", "323")),
            ("Chicago", 60601, 60661, "IL", ("312", "773")),
            ("Houston", 77001, 77099, "TX", ("713", "832")),
            ("Phoenix", 85001, 85054, "AZ", ("602", "480")),
            ("Philadelphia", 19102, 19154, "PA", ("215", "267")),
            ("San Antonio", 78201, 78266, "TX", ("210",)),
            ("San Diego", 92101, 92199, "CA", ("619", "858")),
            ("Dallas", 75201, 75398, "TX", ("214", "469")),
            ("Austin", 78701, 78759, "TX", ("512", "737")),
            ("Seattle", 98101, 98199, "WA", ("206",)),
            ("Denver", 80202, 80249, "CO", ("303", "720")),
            ("Boston", 2108, 2137, "MA", ("617", "857")),
            ("Miami", 33125, 33199, "FL", ("305", "786")),
            ("Atlanta", 30301, 30399, "GA", ("404", "678")),
            ("Portland", 97201, 97299, "OR", ("503", "971")),
        ),
        (
            "Main St",
            "Oak St",
            "Maple Ave",
            "Park Ave",
            "Elm St",
            "Washington St",
            "Lake St",
            "Cedar Ln",
            "Pine St",
            "Hill St",
            "Sunset Blvd",
            "Broadway",
            "2nd Ave",
            "5th St",
            "Lincoln Ave",
            "Jefferson St",
            "Madison Ave",
            "Highland Dr",
        ),
        True,
        ("Apt {n}", "Suite {n}{letter}", "Unit {n}", "#{n}"),
        _plan("1", "", ""),  # US numbers come from the city's area codes
        _weights(
            "gmail.com=38 yahoo.com=14 hotmail.com=10 outlook.com=8 icloud.com=10 aol.com=5 comcast.net=4 msn.com=2 live.com=3 att.net=3 verizon.net=2 me.com=1"
        ),
        "com",
        _weights("en=85 es=7 zh=3 ar=1 it=1 pl=1 ru=1 fr=1"),
    ),
    "PL": Country(
        "PL",
        "pl",
        _cities(
            ("Warszawa", 0, 4999),
            ("Kraków", 30000, 31999),
            ("Łódź", 90000, 94999),
            ("Wrocław", 50000, 54999),
            ("Poznań", 60000, 61999),
            ("Gdańsk", 80000, 80999),
            ("Szczecin", 70000, 71999),
            ("Lublin", 20000, 20999),
        ),
        (
            "ul. Długa",
            "ul. Krótka",
            "ul. Mickiewicza",
            "ul. Kościuszki",
            "ul. Słowackiego",
            "ul. Piłsudskiego",
            "ul. Polna",
            "ul. Leśna",
            "ul. Ogrodowa",
            "ul. Lipowa",
            "ul. Szkolna",
            "al. Jana Pawła II",
            "ul. Kwiatowa",
            "ul. Marszałkowska",
        ),
        False,
        ("m. {n}", "lok. {n}"),
        _plan(
            "48",
            "50:7 51:7 53:7 57:7 60:7 66:7 69:7 72:7 78:7 79:7 88:7",
            "22:7 12:7 42:7 71:7 61:7",
        ),
        _weights(
            "gmail.com=35 wp.pl=15 onet.pl=12 o2.pl=10 interia.pl=8 op.pl=4 poczta.fm=2 outlook.com=4 yahoo.com=3 icloud.com=4 tlen.pl=1"
        ),
        "pl",
        _weights("pl=92 ru=3 en=1 de=1 tr=1 ar=1 zh=1"),
    ),
    "TR": Country(
        "TR",
        "tr",
        _cities(
            ("İstanbul", 34000, 34990),
            ("Ankara", 6000, 6990),
            ("İzmir", 35000, 35990),
            ("Bursa", 16000, 16990),
            ("Antalya", 7000, 7990),
            ("Adana", 1000, 1990),
        ),
        (
            "Atatürk Caddesi",
            "Cumhuriyet Caddesi",
            "İstiklal Caddesi",
            "Bağdat Caddesi",
            "Gazi Mustafa Kemal Bulvarı",
            "Çiçek Sokak",
            "Lale Sokak",
            "Okul Sokak",
            "Cami Sokak",
            "Millet Caddesi",
        ),
        False,
        ("Daire {n}", "Kat {n}"),
        _plan(
            "90",
            "501:7 505:7 506:7 507:7 530:7 532:7 533:7 535:7 536:7 541:7 542:7 543:7 544:7 545:7 551:7 552:7 553:7 555:7",
            "212:7 216:7 312:7 232:7",
        ),
        _weights(
            "gmail.com=45 hotmail.com=25 outlook.com=8 yandex.com=6 icloud.com=6 yahoo.com=5 windowslive.com=2 mynet.com=3"
        ),
        "com.tr",
        _weights("tr=94 ar=3 ru=2 en=1"),
    ),
}

# Where a store's customers live, by the store's country.
NEIGHBOURS: dict[str, tuple[tuple[str, int], ...]] = {
    "DE": _weights("DE=86 AT=5 CH=3 NL=2 FR=1 BE=1 PL=1 IT=1"),
    "AT": _weights("AT=85 DE=10 CH=3 IT=2"),
    "CH": _weights("CH=85 DE=7 FR=4 IT=3 AT=1"),
    "FR": _weights("FR=87 BE=5 CH=3 ES=2 IT=1 DE=1 GB=1"),
    "BE": _weights("BE=82 NL=8 FR=8 DE=2"),
    "NL": _weights("NL=86 BE=7 DE=5 GB=2"),
    "ES": _weights("ES=90 FR=3 IT=2 GB=2 DE=1 NL=1 PL=1"),
    "IT": _weights("IT=90 CH=3 FR=2 DE=2 ES=2 AT=1"),
    "GB": _weights("GB=92 US=2 FR=1 DE=1 ES=1 IT=1 NL=1 PL=1"),
    "US": _weights("US=96 GB=2 DE=1 FR=1"),
    "PL": _weights("PL=93 DE=4 GB=2 NL=1"),
    "TR": _weights("TR=94 DE=4 NL=1 GB=1"),
}

# Customer locale values Shopify stores, by name locale (people often keep their own language).
LANGUAGE_OF_LOCALE = {
    "de": "de",
    "fr": "fr",
    "es": "es",
    "it": "it",
    "nl": "nl",
    "en": "en",
    "pl": "pl",
    "tr": "tr",
    "ru": "ru",
    "el": "el",
    "ar": "ar",
    "zh": "zh-CN",
}
