"""Participants service: people entering a social clause, their eligibility and counting window."""
