"""The BentoML model store as a registry of servable models, and the shared active-model choice."""
