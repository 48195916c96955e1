"""Word lists of a Québec-like city: given names, family names, streets and public places.

Names are the frequent ones of Québec's registers (Tremblay, Gagnon, Roy, Côté...), with compound
given names (Marie-Ève, Jean-François) and a share of names of newer Quebecers. They are drawn
together at random: no list here names a real person.
"""
from __future__ import annotations

GIVEN_NAMES_F = (
    "Marie", "Marie-Ève", "Marie-Claude", "Marie-Josée", "Anne-Marie", "Julie", "Isabelle", "Nathalie",
    "Sylvie", "Chantal", "Josée", "Mélanie", "Geneviève", "Véronique", "Stéphanie", "Karine", "Valérie",
    "Émilie", "Catherine", "Annie", "Caroline", "Johanne", "Francine", "Lise", "Ginette", "Diane",
    "Hélène", "Louise", "Manon", "Sophie", "Audrey", "Camille", "Léa", "Chloé", "Rosalie", "Noémie",
    "Ève", "Maude", "Andrée-Anne", "Élodie", "Fatima", "Mireille", "Nadège", "Thi Lan",
)
GIVEN_NAMES_M = (
    "Jean", "Jean-François", "Jean-Philippe", "Jean-Sébastien", "Pierre-Luc", "Marc-André", "Michel",
    "Pierre", "Luc", "Stéphane", "Sylvain", "Martin", "Éric", "Daniel", "François", "Mathieu", "Simon",
    "Patrick", "Sébastien", "Alexandre", "Maxime", "Gabriel", "Olivier", "Félix", "Samuel", "William",
    "Louis", "Réjean", "Gaétan", "Ghislain", "Normand", "Yves", "Benoît", "Jérôme", "Frédéric",
    "Étienne", "André", "Guy", "Denis", "Raymond", "Mohamed", "Wilner", "Karim", "Minh",
)
FAMILY_NAMES = (
    "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné",
    "Ouellet", "Pelletier", "Bélanger", "Lévesque", "Bergeron", "Leblanc", "Paquette", "Girard", "Simard",
    "Boucher", "Caron", "Beaulieu", "Cloutier", "Dubé", "Poirier", "Fournier", "Lapointe", "Leclerc",
    "Lefebvre", "Poulin", "Thibault", "St-Pierre", "Nadeau", "Martin", "Landry", "Martel", "Bédard",
    "Grenier", "Lessard", "Bernier", "Richard", "Michaud", "Hébert", "Desjardins", "Couture", "Turcotte",
    "Lachance", "Parent", "Blais", "Gosselin", "Savard", "Proulx", "Beaudoin", "Demers", "Perreault",
    "Boudreau", "Lemieux", "Cyr", "Perron", "Dufour", "Dion", "Mercier", "Bolduc", "Bérubé", "Boisvert",
    "Langlois", "Ménard", "Laplante", "Tessier", "Vachon", "Champagne", "Gingras", "Brisson", "Labelle",
    "Lalonde", "Charbonneau", "Séguin", "Thériault", "Rousseau", "Deschênes", "Auclair", "Lacroix",
    "Nguyen", "Joseph", "Jean-Baptiste", "Haddad", "Ndiaye", "Rodriguez", "Benali", "Pierre-Louis",
)
COMPOUND_SHARE = 0.08  # share of persons with a double family name (Gagnon-Roy)

STREET_KINDS = ("rue", "rue", "rue", "boulevard", "avenue", "chemin", "montée", "place")
STREET_NAMES = (
    "Saint-Denis", "Notre-Dame", "Sainte-Catherine", "Saint-Louis", "Saint-Joseph", "Principale",
    "des Seigneurs", "de la Fabrique", "Sainte-Marie", "du Parc", "des Érables", "des Pins", "Masson",
    "Gascon", "Moody", "Laurier", "Papineau", "De Lorimier", "Saint-Hubert", "Beaubien", "Bélanger",
    "Jean-Talon", "Fleury", "Sauvé", "Henri-Bourassa", "Lacordaire", "Langelier", "Pie-IX", "Viau",
    "de l'Église", "du Moulin", "des Sources", "Sainte-Anne", "Saint-Charles", "Saint-Paul", "Victoria",
    "Champlain", "Cartier", "Montcalm", "Wilfrid-Laurier", "de la Gare", "du Coteau", "des Cascades",
    "Claude-Jutra", "Émile-Nelligan", "Gabrielle-Roy", "Félix-Leclerc", "Marie-Victorin", "René-Lévesque",
    "des Bouleaux", "des Lilas", "des Ormes", "de la Rivière", "du Domaine", "Lachapelle", "Chartrand",
)
PUBLIC_PLACES = (
    ("dépanneur", 0.22), ("station de métro", 0.10), ("parc", 0.14), ("centre commercial", 0.12),
    ("pharmacie", 0.10), ("restaurant", 0.12), ("arrêt d'autobus", 0.10), ("refuge", 0.05),
    ("bibliothèque", 0.05),
)

FIELD_MEMBERS = (
    ("Agente Sarah Lemay", "policier"), ("Agent Kevin Dorval", "policier"), ("Agente Julie Cormier", "policier"),
    ("Agent Samuel Pilon", "policier"), ("Marc Beauchemin, t.s.", "intervenant"),
    ("Nadia Rahmani, t.s.", "intervenant"), ("Claudine Sirois, intervenante", "intervenant"),
    ("Hugo Vézina, intervenant", "intervenant"),
)
