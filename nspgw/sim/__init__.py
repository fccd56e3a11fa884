"""nspgw.sim"""
