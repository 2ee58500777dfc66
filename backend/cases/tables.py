"""Dispute cases (矛盾纠纷), their events, categories and the audit log."""
