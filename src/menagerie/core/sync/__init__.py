"""The sync service: watches workflow state and configuration files and pushes their changes
to the WebSocket clients of their tenant."""
