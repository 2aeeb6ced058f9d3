"""The sensor gateway: polled sensors, threshold rules, contract `alert` messages.

    config.py   the gateway's file: sensors, their driver, unit, component, rules
    drivers.py  one interface (`read() -> float`): simulated, Modbus TCP (pymodbus)
    rules.py    a threshold with hysteresis and debounce: raised / cleared
    agent.py    polls every sensor, steps its rules, stores alerts in the outbox
    app.py      `gridwatch edge sensor`: the composition root
"""
