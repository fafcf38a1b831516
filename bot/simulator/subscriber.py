"""Simulated subscriber (placeholder until the simulator lands)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("sim", __name__)
