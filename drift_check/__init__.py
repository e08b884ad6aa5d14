"""The drift check that runs by itself (template.yaml's DriftCheckFunction): `make status` on a schedule."""
