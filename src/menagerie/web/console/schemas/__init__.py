"""The console API's wire models, one module per page."""
