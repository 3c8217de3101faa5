"""The HTTP edge: parse, authorise, call one operation, shape the answer."""
