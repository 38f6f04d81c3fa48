"""`farm ui`: read-only web pages over the farm's database (see farm/ui/app.py)."""
