"""Labeling backends behind one small interface (simulated crowd, Label Studio) and the choice between them."""
