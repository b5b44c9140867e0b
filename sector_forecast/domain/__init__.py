"""Pure maths of sector_forecast: panel, score, features, models, metrics, drift. Never imports dagster."""
