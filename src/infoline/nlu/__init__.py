"""The app's side of the Rasa NLU server: client, process manager, training, evaluation."""
