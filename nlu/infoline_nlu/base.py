"""A trainable Rasa component whose whole state is one scikit-learn model."""

from __future__ import annotations

import pickle
from typing import Any, Dict, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.pipeline import Pipeline

MODEL_FILE = "model.pkl"


class SklearnComponent(GraphComponent):
    """Stores its fitted pipeline in the model archive; subclasses fit and use it."""

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage,
                 resource: Resource, model: Optional[Pipeline] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage,
               resource: Resource, execution_context: ExecutionContext) -> "SklearnComponent":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SklearnComponent":
        with model_storage.read_from(resource) as directory:
            with open(directory / MODEL_FILE, "rb") as handle:
                # Our own model, written by _save() into the archive this server loads.
                model = pickle.load(handle)  # noqa: S301
        return cls(config, model_storage, resource, model)

    def _save(self, model: Pipeline) -> Resource:
        self._model = model
        with self._storage.write_to(self._resource) as directory:
            with open(directory / MODEL_FILE, "wb") as handle:
                pickle.dump(model, handle)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    @property
    def model(self) -> Pipeline:
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__} is used before it was trained")
        return self._model
