"""Running an experiment as a bandit: its rewards from the event log, the policy's update
published through the registry, and estimates labelled with what they are valid for."""

from champion.bandit.readout import bandit_readout
from champion.bandit.rewards import UnitRewards, read_unit_rewards
from champion.bandit.update import BanditUpdate, update_weights

__all__ = ["BanditUpdate", "UnitRewards", "bandit_readout", "read_unit_rewards", "update_weights"]
