FLEET_SRC += tests/fleet/fleet.c
