"""The small shared kernel: settings, database, errors, logging. Imports nothing from api/, tasks/ or models/."""
