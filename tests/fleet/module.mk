FLEET_SRC += tests/fleet/fleet.c tests/fleet/fleet_state.c tests/fleet/fleet_routes.c \
             tests/fleet/fleet_control.c tests/fleet/fleet_users.c
