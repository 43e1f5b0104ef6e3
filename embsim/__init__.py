"""embsim: a simulator and design-space explorer for DLRM embedding layers.

Stages, left to right (a package imports only from packages to its left):

    workloads -> hw_models -> cost_model -> sim -> explorer
"""
__version__ = "0.1.0"
