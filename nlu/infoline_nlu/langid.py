"""Language identification for the infoline: pl, uk, ru, en or "other", inside the Rasa server.

Off-the-shelf detectors confuse Ukrainian with Russian in short messages and read both,
typed in Latin letters, as Polish or English (README, "Language identification"). This
component learns from the training data itself: each block of data/nlu carries
`metadata: {lang: ..}`. It adds Latin-letter copies of the Cyrillic examples and
diacritic-free copies of the Polish ones, and classifies character n-grams with logistic
regression. Text in a script that is neither Latin nor Cyrillic is "other" without
asking the model; text without letters has no language (confidence 0).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from infoline_nlu.base import SklearnComponent
from infoline_nlu.text import TRANSLITERATIONS, script_counts, strip_diacritics, transliterate

logger = logging.getLogger(__name__)

LANGUAGE = "language"
OTHER = "other"


def augment(text: str, lang: str, seed: int) -> List[str]:
    """Return extra spellings of one example: Latin-letter Cyrillic, Polish without accents."""
    if lang in TRANSLITERATIONS and script_counts(text)[1]:
        return [transliterate(text.lower(), TRANSLITERATIONS[lang], seed % 3)]
    if lang == "pl":
        plain = strip_diacritics(text)
        return [plain] if plain != text else []
    return []


def build_model(c: float) -> Pipeline:
    """Character n-grams within words plus whole words, then multinomial logistic regression."""
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True,
                                  min_df=2, max_features=60000)),
        ("words", TfidfVectorizer(analyzer="word", sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b")),
    ])
    classifier = LogisticRegression(C=c, max_iter=1000, class_weight="balanced")
    return Pipeline([("features", features), ("classifier", classifier)])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LanguageIdentifier(SklearnComponent):
    """Adds {"language": {"code", "confidence", "ranking"}} to every parse result."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"c": 20.0, "other_script_share": 0.5}

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
        return self._save(build_model(self._config["c"]).fit(texts, labels))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(LANGUAGE, self.identify(message.get("text") or ""), add_to_output=True)
        return messages

    def identify(self, text: str) -> Dict[str, Any]:
        """Return the language code, its confidence and the ranking of all languages."""
        latin, cyrillic, other = script_counts(text)
        letters = latin + cyrillic + other
        if not letters:
            return {"code": OTHER, "confidence": 0.0, "ranking": {}}
        if other / letters > self._config["other_script_share"]:
            return {"code": OTHER, "confidence": 1.0, "ranking": {OTHER: 1.0}}
        probabilities = self.model.predict_proba([text])[0]
        ranking = {str(code): round(float(p), 4)
                   for code, p in zip(self.model.classes_, probabilities)}
        code = max(ranking, key=ranking.__getitem__)
        return {"code": code, "confidence": ranking[code], "ranking": ranking}
