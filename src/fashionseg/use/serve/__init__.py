"""The web app: an upload page and a JSON API over a trained model."""
