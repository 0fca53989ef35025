"""Familiar forms of given names, several languages, folded like `fold_name` output.

Each row is one formal name and the short forms people type at checkout. A short form may belong to
several formal names ("kate": katherine and catherine; "sam": samuel and samantha), so a name maps
to a set of formal names and two names are nickname-equivalent when those sets meet.
"""

_ROWS = """
william: bill will billy willy liam
robert: bob rob bobby robbie bert
elizabeth: liz beth lizzie betty eliza libby
elisabeth: lisa sissi elli lies liesel
katherine: kate kathy katie kat kitty
catherine: cathy cat kate cate
katharina: kathi katja kati
margaret: maggie peggy meg margie
margarete: grete gretel
richard: rick dick richie rich
james: jim jimmy jamie
michael: mike mick mikey micha
jennifer: jen jenny
thomas: tom tommy
christopher: chris kit topher
christian: chris
christina: chris tina christine
daniel: dan danny
alexander: alex sasha xander sandro
alexandra: alex sasha sandra lexi
samantha: sam sammy
samuel: sam sammy
anthony: tony
antonio: toni tonio
joseph: joe joey
matthew: matt matty
matthias: matze matthi
nicholas: nick nicky
patricia: pat trish patty tricia
rebecca: becky becca
victoria: vicky tori
edward: ed ted eddie ned
jonathan: jon johnny
john: johnny jack
benjamin: ben benny
timothy: tim timmy
kimberly: kim
susan: sue susie
susanne: susi sanne
barbara: barb babs babsi
amanda: mandy
charlotte: lottie charlie
charles: charlie chuck
olivia: liv
johannes: hannes jo jan
stefanie: steffi
andreas: andi
andrew: andy drew
wolfgang: wolf
maximilian: max maxi
franziska: franzi
friedrich: fritz
dominik: dome
francesco: franco checco
francisco: paco pancho curro
jose: pepe
josefa: pepa
manuel: manolo
dolores: lola
concepcion: concha
guillermo: memo
giuseppe: beppe peppe pino
giovanni: gianni
salvatore: toto
alessandro: ale sandro
roberto: rob berto
francois: franck
frederic: fred
nicolas: nico
guillaume: guigui
jacques: jacquot
aleksandr: sasha sanya
dmitri: dima
ekaterina: katya katia
aikaterini: katerina ekaterini
dimitrios: dimitris
nikolaos: nikos
konstantinos: kostas
katarzyna: kasia
malgorzata: gosia
wojciech: wojtek
aleksandra: ola
johanna: hanna
jan: jannes
hendrik: henk
cornelis: kees
josef: sepp joschi
sebastian: basti
tobias: tobi
florian: flo
christiane: christel nane
alexandre: alex
christophe: chris
dominique: dom
isabelle: isa babette
stephanie: steph fanny
mathilde: mathy
sebastien: seb
aurelien: aurel
jose: chema
francisco: fran
manuel: manu
jesus: chus chucho
concepcion: conchi
ignacio: nacho
guadalupe: lupe
enrique: quique
rosario: charo
mercedes: merche
antonio: tono
alejandro: alex
montserrat: montse
cristina: cris
giovanni: nanni
salvatore: turi
elisabetta: betta
francesca: franca cecca
domenico: mimmo
vincenzo: enzo
alessandra: ale
federica: fede
federico: fede
cornelis: cees
jacobus: koos jaap
wilhelmina: mien wilma
geertruida: truus trudy
petrus: piet peter
willem: wim
abraham: bram
aleksander: olek alek
malgorzata: malgosia
jozef: jozek
tomasz: tomek
agnieszka: aga
magdalena: magda
krzysztof: krzysiek
stanislaw: staszek stasiu
przemyslaw: przemek
bartlomiej: bartek
mehmet: memo
mustafa: musti
huseyin: huso
aleksandr: sascha
yekaterina: katya
mikhail: misha
yelena: lena
vladimir: volodya vova
anastasia: nastya nastja
ivan: vanya
nikolai: kolya
maria: masha mia mari
georgios: giorgos
panagiotis: panos
""".strip()


def _build() -> dict[str, frozenset[str]]:
    formal_of: dict[str, set[str]] = {}
    for line in _ROWS.splitlines():
        formal, _, shorts = line.partition(":")
        formal = formal.strip()
        formal_of.setdefault(formal, set()).add(formal)
        for short in shorts.split():
            formal_of.setdefault(short, set()).add(formal)
    return {name: frozenset(formals) for name, formals in formal_of.items()}


FORMAL_NAMES: dict[str, frozenset[str]] = _build()


def formal_names(folded_first_name: str) -> frozenset[str]:
    """The formal names `folded_first_name` may stand for (itself when it is in no row)."""
    if not folded_first_name:
        return frozenset()
    return FORMAL_NAMES.get(folded_first_name, frozenset((folded_first_name,)))


def nickname_equivalent(one: str, other: str) -> bool:
    return bool(one and other and formal_names(one) & formal_names(other))
