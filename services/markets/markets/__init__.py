"""Markets service: public contracts with a social clause, their lots, quotas and progress."""
