"""Notifications service: alerts on lots (quota reached, at risk, behind) for the facilitators concerned."""
