"""Edge agents: what runs on a worker's handset, a camera gateway or a sensor hub.

Data flows one way: an agent (handset/, ...) validates and stores each message
in the device's persistent Outbox (outbox.py); a Sender (sender.py) publishes
what is due over the process's one MQTT Link (link.py) and deletes a message
only when the cloud's receipt covers it. EdgeNode (node.py) wires the three for
one device; `gridwatch edge ...` (commands.py) is the command line.
"""
