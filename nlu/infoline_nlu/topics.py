"""Topic (intent) classification for the infoline, inside the Rasa server.

Every text is first written in one plain Latin spelling (text.plain_latin), so that
"де зробити песель", "de zrobyty pesel" and the Polish "gdzie zrobic pesel" share
features. Character n-grams within words and word uni- and bigrams, TF-IDF weighted,
feed a linear SVM whose scores are calibrated into probabilities by cross-validation;
the dialogue engine needs honest confidences for its thresholds.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from infoline_nlu.base import SklearnComponent
from infoline_nlu.text import plain_latin

logger = logging.getLogger(__name__)


def build_model(config: Dict[Text, Any]) -> Pipeline:
    """Plain-Latin character and word TF-IDF features, then a calibrated linear SVM."""
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", preprocessor=plain_latin,
                                  ngram_range=(config["char_min"], config["char_max"]),
                                  min_df=config["min_df"], max_features=config["max_features"],
                                  sublinear_tf=True)),
        ("words", TfidfVectorizer(analyzer="word", preprocessor=plain_latin, ngram_range=(1, 2),
                                  token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)),
    ])
    folds = StratifiedKFold(config["folds"], shuffle=True, random_state=config["random_state"])
    classifier = CalibratedClassifierCV(LinearSVC(C=config["c"]), cv=folds)
    return Pipeline([("features", features), ("classifier", classifier)])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TopicClassifier(SklearnComponent):
    """Sets "intent" and "intent_ranking" from the calibrated SVM."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"c": 1.0, "char_min": 1, "char_max": 5, "min_df": 2, "max_features": 200000,
                "folds": 3, "random_state": 1, "ranking_length": 10}

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get("text") and m.get("intent")]
        texts = [m.get("text") for m in examples]
        # An array, not a list: scikit-learn 1.1's calibration compares labels with `==`.
        topics = np.asarray([m.get("intent") for m in examples])
        logger.info("Training topic classification on %d examples", len(texts))
        return self._save(build_model(self._config).fit(texts, topics))

    def process(self, messages: List[Message]) -> List[Message]:
        if not messages:
            return messages
        probabilities = self.model.predict_proba([m.get("text") or "" for m in messages])
        classes = self.model.classes_
        for message, row in zip(messages, probabilities):
            ranking = sorted(({"name": str(c), "confidence": float(p)} for c, p in zip(classes, row)),
                             key=lambda r: -r["confidence"])
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[: self._config["ranking_length"]],
                        add_to_output=True)
        return messages
