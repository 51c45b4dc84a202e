"""A MADACE-style project's files: its configuration (`config.yaml` and the secrets' `.env`)
and where its workflow states are mirrored, per tenant, under `DATA_DIR/madace/`."""
