"""gwsim: a simulated fleet of grid workers for gridwatch.

`tracks` generates each worker's day of fixes as arrays (pure, no MQTT) from a
behaviour plan (`plans`) on a synthetic grid city (`city`) with realistic GPS
noise (`noise`), and states the ground truth. `fleet` plays the same tracks
through the real edge handset code (HandsetAgent, outbox, sender, one relay
link) against a broker. `evaluate` scores attendance results against the truth.
Needs only numpy and the edge package: no shapely, no database.
"""
