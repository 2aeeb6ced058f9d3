"""The MQTT broker's side of security: per-device credentials and ACL files."""
