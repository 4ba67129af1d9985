"""labelloop pipelines: curate, train, active-learning, retrain; and the CLI."""
