# ruff: noqa: RUF001 - Turkish names and places are spelt with the dotless i on purpose
"""Given names, surnames and nicknames by name locale (data only).

Non-Latin names (ru, uk, el, ar, zh) are stored transliterated the way people type them into a
Latin-script checkout; `TRANSLITERATION_VARIANTS` lists the other spellings the same person uses.
"""


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated names; "_" stands for a space inside one name (De_Luca)."""
    return tuple(word.replace("_", " ") for word in text.split())


def _pipe_words(text: str) -> tuple[str, ...]:
    """For names that contain spaces (van der Meer)."""
    return tuple(text.split("|"))


# locale -> (female given names, male given names, surnames)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "de": (
        _words(
            "Anna Maria Katharina Sophie Lena Julia Laura Sarah Lisa Hannah Leonie Johanna Lea "
            "Franziska Stefanie Susanne Sabine Petra Claudia Andrea Nicole Monika Ursula Elisabeth "
            "Birgit Martina Anja Kerstin Jana Jessica Annika Charlotte Emilia Mia Clara "
            "Margarete Barbara Christiane Dörte Jördis Bärbel Gisela Helga Renate Marlene Greta"
        ),
        _words(
            "Thomas Michael Andreas Stefan Christian Alexander Markus Martin Peter Klaus Wolfgang "
            "Jürgen Uwe Frank Matthias Tobias Jan Lukas Felix Jonas Maximilian Paul Leon Finn Niklas "
            "Johannes Sebastian Florian Daniel Dennis Sven Björn Jörg Günter Horst Dieter Friedrich "
            "Josef Manfred Rüdiger Bernd Heinz Karl Moritz Till Henrik"
        ),
        _words(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
            "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann "
            "Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann "
            "König Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Vogel "
            "Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht "
            "Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto "
            "Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn "
            "Kühn Pohl Engel Horn Busch Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Gärtner"
        ),
    ),
    "fr": (
        _words(
            "Marie Camille Léa Manon Chloé Inès Sarah Emma Jade Louise Julie Céline Nathalie Isabelle "
            "Sylvie Catherine Sophie Stéphanie Aurélie Émilie Hélène Mathilde Élodie Anaïs Clémence "
            "Océane Margaux Amélie Valérie Françoise Brigitte Dominique Christine Sandrine Virginie"
        ),
        _words(
            "Jean Pierre Michel Philippe Alain Nicolas François Frédéric Laurent Stéphane Julien "
            "Thomas Antoine Alexandre Guillaume Christophe Sébastien Mathieu Maxime Hugo Lucas Louis "
            "Théo Clément Jérôme Rémi Benoît Aurélien Grégoire Gaël Loïc Cédric Hervé Étienne Noël"
        ),
        _words(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
            "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefebvre "
            "Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure Rousseau Blanc "
            "Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément Gauthier Dumont Lopez "
            "Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer Denis Lemaire Duval Joly "
            "Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Pérez Marchand Dufour Blanchard "
            "Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Pierre Renard Arnaud Rolland "
            "Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine Picard Gaillard Philippe "
            "Lacroix Dupuis Olivier Guillot Moulin Hubert Rey Besnard Boucher Lévêque Hébert Châtelain"
        ),
    ),
    "es": (
        _words(
            "María Carmen Ana Isabel Laura Cristina Marta Lucía Paula Elena Sara Raquel Pilar Rosa "
            "Dolores Mercedes Concepción Rosario Guadalupe Teresa Nuria Silvia Patricia Beatriz Inés "
            "Sofía Alba Noelia Rocío Begoña Montserrat Ainhoa Irene Lorena Yolanda Julia"
        ),
        _words(
            "José Antonio Manuel Francisco Juan David Javier Daniel Carlos Jesús Alejandro Miguel "
            "Rafael Pedro Pablo Ángel Sergio Fernando Jorge Luis Alberto Álvaro Diego Adrián Raúl "
            "Enrique Ramón Vicente Ignacio Andrés Joaquín Rubén Óscar Iñaki Íñigo Gonzalo Hugo"
        ),
        _words(
            "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez "
            "Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez "
            "Vázquez Ramos Gil Ramírez Serrano Blanco Molina Morales Suárez Ortega Delgado Castro "
            "Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Cortés Castillo Santos Lozano "
            "Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal León Márquez Herrera Peña Flores "
            "Cabrera Campos Vega Fuentes Carrasco Diez Caballero Reyes Nieto Aguilar Pascual Santana "
            "Herrero Montero Lorenzo Hidalgo Giménez Ibáñez Ferrer Durán Santiago Benítez Mora"
        ),
    ),
    "it": (
        _words(
            "Giulia Francesca Chiara Sara Martina Valentina Alessandra Federica Silvia Elisa Laura "
            "Paola Anna Maria Elena Roberta Simona Barbara Cristina Elisabetta Giovanna Lucia Serena "
            "Ilaria Beatrice Sofia Aurora Alice Giorgia Noemi Rosa Antonella Concetta Carmela"
        ),
        _words(
            "Giuseppe Giovanni Antonio Mario Luigi Francesco Angelo Vincenzo Pietro Salvatore Carlo "
            "Franco Domenico Bruno Paolo Michele Giorgio Aldo Sergio Luciano Alessandro Andrea Marco "
            "Matteo Lorenzo Davide Simone Federico Riccardo Stefano Roberto Nicolò Niccolò Gianluca"
        ),
        _words(
            "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
            "De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani "
            "Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra "
            "Coppola De_Santis D'Angelo Marchetti Parisi Villa Conte Ferraro Ferri Fabbri Bianco "
            "Marini Grasso Valentini Messina Sala De_Angelis Gatti Pellegrini Palumbo Sanna Farina "
            "Rizzi Monti Cattaneo Morelli Amato Silvestri Mazza Testa Grassi Pellegrino Carbone "
            "Giuliani Benedetti Barone Rossetti Caputo Montanari Guerra Palmieri Bernardi Martino "
            "Fiore De_Rosa Ferretti Bellini Basile Riva Donati Piras Vitali Battaglia Sartori Neri "
            "Costantini Milani Pagano Ruggiero Sorrentino D'Amico Orlando Damico Negri Fabbro"
        ),
    ),
    "nl": (
        _words(
            "Emma Julia Sophie Lotte Fleur Anna Sanne Lisa Eva Anouk Iris Femke Maaike Marieke Ingrid "
            "Wilhelmina Geertruida Annemieke Joke Els Ria Mieke Saskia Esther Ilse Linda Petra Yvonne"
        ),
        _words(
            "Jan Johannes Cornelis Hendrik Jacobus Petrus Pieter Willem Gerrit Dirk Bram Daan Sem "
            "Lucas Thijs Ruben Jeroen Bas Niels Joost Maarten Sander Wouter Stijn Koen Hans Kees Henk"
        ),
        _pipe_words(
            "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|Meijer|de Boer|"
            "Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Smits|"
            "de Graaf|van der Meer|van der Linden|Kok|Jacobs|de Haan|Vermeulen|van den Heuvel|"
            "van der Veen|van den Broek|de Bruijn|van der Heijden|Schouten|van Beek|Willems|"
            "van Vliet|van de Ven|Hoekstra|Maas|Verhoeven|Koster|van Dam|van der Wal|Prins|Blom|"
            "Huisman|Timmermans|Kuipers|Groen|Postma"
        ),
    ),
    "en": (
        _words(
            "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Nancy Margaret "
            "Lisa Betty Sandra Ashley Kimberly Emily Donna Michelle Katherine Catherine Rebecca "
            "Victoria Samantha Amanda Olivia Charlotte Amelia Sophie Emma Chloe Lucy Hannah Megan"
        ),
        _words(
            "James Robert John Michael William David Richard Joseph Thomas Charles Christopher Daniel "
            "Matthew Anthony Mark Steven Andrew Joshua Kenneth Edward Nicholas Jonathan Benjamin "
            "Samuel Oliver Harry George Jack Jacob Alexander Henry Patrick Timothy Peter"
        ),
        _words(
            "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
            "Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King "
            "Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips "
            "Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper "
            "Peterson Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett "
            "Gray James Hughes Price Sanders Myers Long Ross Foster Powell Jenkins Perry Russell "
            "Sullivan Fisher Butler Barnes Henderson Coleman Simmons Patterson Jordan Reynolds "
            "Hamilton Graham Wallace Cole West O'Brien O'Connor McDonald MacKenzie Fitzgerald"
        ),
    ),
    "pl": (
        _words(
            "Anna Maria Katarzyna Małgorzata Agnieszka Barbara Ewa Krystyna Magdalena Elżbieta "
            "Joanna Aleksandra Monika Zofia Teresa Danuta Natalia Karolina Marta Beata Dorota "
            "Justyna Jadwiga Grażyna Bożena Paulina Urszula Weronika Julia Wiktoria"
        ),
        _words(
            "Piotr Krzysztof Andrzej Tomasz Paweł Jan Michał Marcin Jakub Adam Marek Łukasz Grzegorz "
            "Mateusz Wojciech Mariusz Dariusz Zbigniew Maciej Józef Kamil Rafał Jacek Stanisław "
            "Aleksander Szymon Przemysław Sebastian Bartłomiej Kacper"
        ),
        _words(
            "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański "
            "Woźniak Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski Grabowski "
            "Nowakowski Pawłowski Michalski Nowicki Adamczyk Dudek Zając Wieczorek Jabłoński Król "
            "Majewski Olszewski Jaworski Wróbel Malinowski Pawlak Witkowski Walczak Stępień Górski "
            "Rutkowski Michalak Sikora Ostrowski Baran Duda Szewczyk Tomaszewski Pietrzak Marciniak"
        ),
    ),
    "tr": (
        _words(
            "Ayşe Fatma Emine Hatice Zeynep Elif Merve Özlem Esra Zehra Büşra Şeyma Gül Hülya Derya "
            "Sevgi Yasemin Ebru Selin Ece Damla Gamze Tuğba Melek Hande Dilek Nur Aylin Songül"
        ),
        _words(
            "Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim İsmail Yusuf Ömer Murat Osman Emre Burak "
            "Can Cem Kemal Serkan Volkan Tolga Onur Oğuz Uğur Erkan Barış Şükrü Gökhan Hakan Yasin"
        ),
        _words(
            "Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç "
            "Aslan Çetin Kara Koç Kurt Özkan Şimşek Polat Öz Korkmaz Erdoğan Yavuz Can Acar Aksoy "
            "Güneş Avcı Tekin Bulut Ünal Başaran Karaca Duman Güler Akın Keskin"
        ),
    ),
    # Transliterated from Cyrillic, Greek, Arabic and Chinese scripts.
    "ru": (
        _words(
            "Anastasia Yekaterina Yelena Olga Natalia Tatiana Irina Svetlana Maria Anna Yulia Daria "
            "Oksana Ksenia Polina Lyudmila Galina Viktoria Alina Valentina"
        ),
        _words(
            "Aleksandr Dmitri Sergei Andrei Aleksei Mikhail Ivan Nikolai Vladimir Yevgeni Pavel "
            "Oleg Igor Artyom Maksim Viktor Yuri Konstantin Vadim Roman"
        ),
        _words(
            "Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov Mikhailov Novikov Fyodorov "
            "Morozov Volkov Alekseev Lebedev Semyonov Yegorov Pavlov Kozlov Stepanov Nikolaev "
            "Shevchenko Kovalenko Bondarenko Tkachenko Kravchenko Oliynyk Melnyk Boyko"
        ),
    ),
    "el": (
        _words(
            "Maria Eleni Aikaterini Vasiliki Sofia Angeliki Georgia Dimitra Konstantina Paraskevi"
        ),
        _words(
            "Georgios Konstantinos Ioannis Dimitrios Nikolaos Panagiotis Vasileios Christos Athanasios Michail"
        ),
        _words(
            "Papadopoulos Papadakis Georgiou Oikonomou Nikolaidis Dimitriou Ioannidis Konstantinidis "
            "Karagiannis Vlachos Pappas Makris Antoniou Christodoulou Alexiou"
        ),
    ),
    "ar": (
        _words("Fatima Aisha Mariam Layla Nour Yasmin Hana Amira Salma Zainab Leila Rania"),
        _words(
            "Mohammed Ahmed Ali Omar Youssef Khaled Hassan Ibrahim Mahmoud Karim Tarek Samir Bilal"
        ),
        _words(
            "Al-Hassan Haddad Khalil Nasser Saleh Mansour Hamdan Aziz Rahman Habib Darwish Abbas "
            "El-Amin Farouk Suleiman Othman"
        ),
    ),
    "zh": (
        _words("Li Na Xiu Ying Mei Fang Jing Yan Hui Lan Xia Ting Yue Lin Min"),
        _words("Wei Jun Lei Hao Yang Jie Tao Ming Qiang Bo Chao Peng Hui Long"),
        _words("Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin He Gao"),
    ),
}

# Name locales whose names are transliterated from another script.
TRANSLITERATED_LOCALES = frozenset({"ru", "el", "ar", "zh"})

# Chinese customers often enter the family name first; handled by the name-order corruption.
FAMILY_NAME_FIRST_LOCALES = frozenset({"zh"})

# Other Latin spellings of the same transliterated name.
TRANSLITERATION_VARIANTS: dict[str, tuple[str, ...]] = {
    "Aleksandr": ("Alexander", "Alexandr"),
    "Dmitri": ("Dmitry", "Dmitrij", "Dmitriy"),
    "Sergei": ("Sergey", "Sergej"),
    "Andrei": ("Andrey", "Andrej"),
    "Aleksei": ("Alexey", "Alexei", "Aleksej"),
    "Yevgeni": ("Evgeny", "Jewgeni", "Evgenij"),
    "Yuri": ("Yury", "Juri", "Iurii"),
    "Yekaterina": ("Ekaterina", "Jekaterina", "Katerina"),
    "Yelena": ("Elena", "Jelena"),
    "Natalia": ("Natalya", "Natalja"),
    "Tatiana": ("Tatyana", "Tatjana"),
    "Yulia": ("Julia", "Iuliia", "Yuliya"),
    "Ksenia": ("Kseniya", "Xenia"),
    "Artyom": ("Artem", "Artiom"),
    "Maksim": ("Maxim", "Maksym"),
    "Fyodorov": ("Fedorov", "Fjodorow"),
    "Semyonov": ("Semenov", "Semjonow"),
    "Yegorov": ("Egorov", "Jegorow"),
    "Vasiliev": ("Vasilyev", "Wassiljew"),
    "Ivanov": ("Iwanow", "Ivanow"),
    "Petrov": ("Petrow",),
    "Smirnov": ("Smirnow",),
    "Mohammed": ("Mohamed", "Muhammad", "Mohammad", "Mohamad"),
    "Ahmed": ("Ahmad", "Ahmet"),
    "Youssef": ("Yousef", "Yusuf", "Youcef"),
    "Khaled": ("Khalid", "Chaled"),
    "Mahmoud": ("Mahmud", "Mahmood"),
    "Tarek": ("Tariq", "Tarik"),
    "Aisha": ("Aicha", "Ayesha"),
    "Mariam": ("Maryam", "Meriem"),
    "Layla": ("Leila", "Laila"),
    "Al-Hassan": ("Alhassan", "El-Hassan", "Al Hassan"),
    "Haddad": ("Hadad",),
    "Suleiman": ("Sulaiman", "Süleyman"),
    "Georgios": ("Giorgos", "Yorgos"),
    "Ioannis": ("Giannis", "Yannis"),
    "Dimitrios": ("Dimitris",),
    "Nikolaos": ("Nikos",),
    "Aikaterini": ("Ekaterini", "Katerina"),
    "Papadopoulos": ("Papadopulos",),
    "Karagiannis": ("Karayannis",),
}

# Given name -> familiar forms the same person also uses at checkout.
NICKNAMES: dict[str, tuple[str, ...]] = {
    # en
    "William": ("Bill", "Will", "Billy"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "Elizabeth": ("Liz", "Beth", "Lizzie"),
    "Katherine": ("Kate", "Kathy", "Katie"),
    "Catherine": ("Cathy", "Cat", "Kate"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Richard": ("Rick", "Dick", "Richie"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Michael": ("Mike", "Mick"),
    "Jennifer": ("Jen", "Jenny"),
    "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris", "Kit"),
    "Daniel": ("Dan", "Danny"),
    "Alexander": ("Alex", "Sasha"),
    "Samantha": ("Sam", "Sammy"),
    "Anthony": ("Tony",),
    "Joseph": ("Joe", "Joey"),
    "Matthew": ("Matt",),
    "Nicholas": ("Nick", "Nicky"),
    "Patricia": ("Pat", "Trish", "Patty"),
    "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Vicky", "Tori"),
    "Edward": ("Ed", "Ted", "Eddie"),
    "Jonathan": ("Jon", "Johnny"),
    "Benjamin": ("Ben", "Benny"),
    "Samuel": ("Sam",),
    "Timothy": ("Tim",),
    "Kimberly": ("Kim",),
    "Susan": ("Sue", "Susie"),
    "Barbara": ("Barb", "Babsi"),
    "Amanda": ("Mandy",),
    "Charlotte": ("Lottie", "Charlie"),
    "Olivia": ("Liv",),
    # de
    "Katharina": ("Kathi", "Katja", "Kati"),
    "Johannes": ("Hannes", "Jo", "Jan"),
    "Christian": ("Chris",),
    "Elisabeth": ("Lisa", "Sissi", "Elli"),
    "Stefanie": ("Steffi",),
    "Andreas": ("Andi",),
    "Wolfgang": ("Wolf",),
    "Margarete": ("Grete", "Gretel"),
    "Susanne": ("Susi", "Sanne"),
    "Matthias": ("Matze", "Matthi"),
    "Maximilian": ("Max", "Maxi"),
    "Franziska": ("Franzi",),
    "Friedrich": ("Fritz",),
    "Josef": ("Sepp", "Joschi"),
    "Sebastian": ("Basti",),
    "Tobias": ("Tobi",),
    "Florian": ("Flo",),
    "Dominik": ("Dome",),
    "Christiane": ("Christel", "Nane"),
    "Alexandra": ("Alex", "Sandra"),
    # fr
    "Frédéric": ("Fred",),
    "Nicolas": ("Nico",),
    "Alexandre": ("Alex",),
    "Christophe": ("Chris",),
    "Dominique": ("Dom",),
    "Isabelle": ("Isa", "Babette"),
    "Stéphanie": ("Steph", "Fanny"),
    "Mathilde": ("Mathy",),
    "Sébastien": ("Seb",),
    "Guillaume": ("Guigui",),
    "Aurélien": ("Aurel",),
    # es
    "José": ("Pepe", "Chema"),
    "Francisco": ("Paco", "Curro", "Fran"),
    "Manuel": ("Manolo", "Manu"),
    "Jesús": ("Chus", "Chucho"),
    "Dolores": ("Lola",),
    "Concepción": ("Concha", "Conchi"),
    "Ignacio": ("Nacho",),
    "Guadalupe": ("Lupe",),
    "Enrique": ("Quique",),
    "Rosario": ("Charo",),
    "Mercedes": ("Merche",),
    "Antonio": ("Toni", "Toño"),
    "Alejandro": ("Álex", "Alex"),
    "Montserrat": ("Montse",),
    "Cristina": ("Cris",),
    # it
    "Giuseppe": ("Beppe", "Peppe", "Pino"),
    "Francesco": ("Franco", "Checco"),
    "Giovanni": ("Gianni", "Nanni"),
    "Alessandro": ("Sandro", "Ale"),
    "Salvatore": ("Totò", "Turi"),
    "Roberto": ("Berto",),
    "Elisabetta": ("Betta",),
    "Francesca": ("Franca", "Cecca"),
    "Domenico": ("Mimmo",),
    "Vincenzo": ("Enzo",),
    "Alessandra": ("Ale",),
    "Federica": ("Fede",),
    "Federico": ("Fede",),
    # nl
    "Cornelis": ("Kees", "Cees"),
    "Hendrik": ("Henk",),
    "Jacobus": ("Koos", "Jaap"),
    "Wilhelmina": ("Mien", "Wilma"),
    "Geertruida": ("Truus", "Trudy"),
    "Petrus": ("Piet", "Peter"),
    "Willem": ("Wim",),
    "Abraham": ("Bram",),
    # pl
    "Aleksander": ("Olek", "Alek"),
    "Małgorzata": ("Gosia", "Małgosia"),
    "Katarzyna": ("Kasia",),
    "Józef": ("Józek",),
    "Tomasz": ("Tomek",),
    "Wojciech": ("Wojtek",),
    "Agnieszka": ("Aga",),
    "Magdalena": ("Magda",),
    "Aleksandra": ("Ola",),
    "Krzysztof": ("Krzysiek",),
    "Stanisław": ("Staszek", "Stasiu"),
    "Przemysław": ("Przemek",),
    "Bartłomiej": ("Bartek",),
    # tr
    "Mehmet": ("Memo",),
    "Mustafa": ("Musti",),
    "Hüseyin": ("Hüso",),
    # ru / el
    "Aleksandr": ("Sasha", "Sascha"),
    "Dmitri": ("Dima",),
    "Yekaterina": ("Katya",),
    "Mikhail": ("Misha",),
    "Yelena": ("Lena",),
    "Vladimir": ("Volodya", "Vova"),
    "Anastasia": ("Nastya", "Nastja"),
    "Ivan": ("Vanya",),
    "Nikolai": ("Kolya",),
    "Maria": ("Masha", "Mia", "Mari"),
    "Georgios": ("Giorgos",),
    "Konstantinos": ("Kostas",),
    "Panagiotis": ("Panos",),
}

# German-style transcription of umlauts; everything else just loses its accent.
UMLAUT_TRANSCRIPTION = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
