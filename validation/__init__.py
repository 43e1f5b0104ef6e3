"""Validation: the models' predictions beside public measurements (see validation/README.md)."""
