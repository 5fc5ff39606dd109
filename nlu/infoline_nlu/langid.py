"""Language identification for the infoline: pl, uk, ru, en or "other", inside the Rasa server.

Off-the-shelf detectors confuse Ukrainian with Russian in short messages and read both,
typed in Latin letters, as Polish or English. This component learns from the training
data itself (each block of data/nlu carries `metadata: {lang: ..}`), adds Latin-letter
copies of the Cyrillic examples and diacritic-free copies of the Polish ones, and
classifies character n-grams with logistic regression. Text written in a script that is
neither Latin nor Cyrillic is "other" without asking the model.
"""

from __future__ import annotations

import logging
import pickle
import unicodedata
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

logger = logging.getLogger(__name__)

LANGUAGE = "language"
OTHER = "other"
MODEL_FILE = "langid.pkl"

# Latin spellings people use for Cyrillic letters; several per letter, picked in turn so
# that the model sees "shcho", "scho" and "sho" alike.
_UK_LATIN = {
    "а": ["a"], "б": ["b"], "в": ["v", "w"], "г": ["h", "g"], "ґ": ["g"], "д": ["d"],
    "е": ["e"], "є": ["ye", "je", "ie"], "ж": ["zh", "z", "j"], "з": ["z"],
    "и": ["y", "y", "i"], "і": ["i"], "ї": ["yi", "ji", "i"], "й": ["y", "j", "i"],
    "к": ["k"], "л": ["l"], "м": ["m"], "н": ["n"], "о": ["o"], "п": ["p"], "р": ["r"],
    "с": ["s"], "т": ["t"], "у": ["u"], "ф": ["f"], "х": ["kh", "h", "x"],
    "ц": ["ts", "c"], "ч": ["ch", "4"], "ш": ["sh", "w"], "щ": ["shch", "sch", "sh"],
    "ь": ["", "'"], "ю": ["yu", "ju", "iu"], "я": ["ya", "ja", "ia"], "'": ["", "'"],
    "’": ["", "'"], "ʼ": ["", "'"],
}
_RU_LATIN = {
    "а": ["a"], "б": ["b"], "в": ["v", "w"], "г": ["g"], "д": ["d"], "е": ["e"],
    "ё": ["e", "yo", "jo"], "ж": ["zh", "j", "z"], "з": ["z"], "и": ["i"],
    "й": ["y", "j", "i"], "к": ["k"], "л": ["l"], "м": ["m"], "н": ["n"], "о": ["o"],
    "п": ["p"], "р": ["r"], "с": ["s"], "т": ["t"], "у": ["u"], "ф": ["f"],
    "х": ["h", "kh", "x"], "ц": ["ts", "c"], "ч": ["ch", "4"], "ш": ["sh", "w"],
    "щ": ["sch", "shch", "w"], "ъ": ["", "'"], "ы": ["y", "i"], "ь": ["", "'"],
    "э": ["e"], "ю": ["yu", "ju", "iu"], "я": ["ya", "ja", "ia"],
}
_TRANSLITERATIONS = {"uk": _UK_LATIN, "ru": _RU_LATIN}


def transliterate(text: str, table: Dict[str, List[str]], variant: int) -> str:
    """Write Cyrillic text in Latin letters the way people type it (variant picks spellings)."""
    out = []
    for index, char in enumerate(text):
        lower = char.lower()
        options = table.get(lower)
        if options is None:
            out.append(char)
            continue
        latin = options[(variant + index) % len(options)] if variant else options[0]
        out.append(latin.upper() if char != lower and latin else latin)
    return "".join(out)


def strip_diacritics(text: str) -> str:
    """Drop accents the way Polish is typed on a phone without a Polish keyboard."""
    text = text.replace("ł", "l").replace("Ł", "L")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def script_counts(text: str) -> Tuple[int, int, int]:
    """Count the Latin, Cyrillic and other letters in a text."""
    latin = cyrillic = other = 0
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        if name.startswith("LATIN"):
            latin += 1
        elif name.startswith("CYRILLIC"):
            cyrillic += 1
        else:
            other += 1
    return latin, cyrillic, other


def augment(text: str, lang: str, seed: int) -> List[str]:
    """Return extra spellings of one example: Latin-letter Cyrillic, Polish without accents."""
    if lang in _TRANSLITERATIONS and script_counts(text)[1]:
        return [transliterate(text.lower(), _TRANSLITERATIONS[lang], seed % 3)]
    if lang == "pl":
        plain = strip_diacritics(text)
        return [plain] if plain != text else []
    return []


def build_model(c: float) -> Pipeline:
    """Character n-grams within words plus whole words, then multinomial logistic regression."""
    features = FeatureUnion(
        [
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True,
                                      min_df=2, max_features=60000)),
            ("words", TfidfVectorizer(analyzer="word", sublinear_tf=True, min_df=1,
                                      token_pattern=r"(?u)\b\w+\b")),
        ]
    )
    classifier = LogisticRegression(C=c, max_iter=1000, class_weight="balanced")
    return Pipeline([("features", features), ("classifier", classifier)])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LanguageIdentifier(GraphComponent):
    """Adds {"language": {"code", "confidence", "ranking"}} to every parse result."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"c": 20.0, "other_script_share": 0.5}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, model: Optional[Pipeline] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> "LanguageIdentifier":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LanguageIdentifier":
        with model_storage.read_from(resource) as directory:
            with open(directory / MODEL_FILE, "rb") as handle:
                # Our own model, written by train() below into the model archive.
                model = pickle.load(handle)  # noqa: S301
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        texts: List[str] = []
        labels: List[str] = []
        for seed, message in enumerate(training_data.intent_examples):
            lang = ((message.get("metadata") or {}).get("intent") or {}).get("lang")
            text = message.get("text")
            if not lang or not text:
                continue
            for variant in [text, *augment(text, lang, seed)]:
                texts.append(variant)
                labels.append(lang)
        if len(set(labels)) < 2:
            raise ValueError("LanguageIdentifier needs training blocks with metadata "
                             "{lang: ..} in at least two languages")
        logger.info("Training language identification on %d texts", len(texts))
        self._model = build_model(self._config["c"]).fit(texts, labels)
        with self._storage.write_to(self._resource) as directory:
            with open(directory / MODEL_FILE, "wb") as handle:
                pickle.dump(self._model, handle)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(LANGUAGE, self.identify(message.get("text") or ""), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def identify(self, text: str) -> Dict[str, Any]:
        """Return the language code, its confidence and the ranking of all languages."""
        latin, cyrillic, other = script_counts(text)
        letters = latin + cyrillic + other
        if not letters:
            return {"code": OTHER, "confidence": 0.0, "ranking": {}}
        if other / letters > self._config["other_script_share"]:
            return {"code": OTHER, "confidence": 1.0, "ranking": {OTHER: 1.0}}
        assert self._model is not None, "LanguageIdentifier used before training"
        probabilities = self._model.predict_proba([text])[0]
        ranking = {str(code): round(float(p), 4)
                   for code, p in zip(self._model.classes_, probabilities)}
        code = max(ranking, key=ranking.__getitem__)
        return {"code": code, "confidence": ranking[code], "ranking": ranking}
