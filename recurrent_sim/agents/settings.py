"""The A3C agent's settings (:func:`recurrent_sim.agents.make_learning_agent`), defined once for
``recurrent-sim dyna`` and the original script (``--lr``, ``--t-max`` ...)."""
from recurrent_sim.utils.settings import Setting, non_negative_float, positive_float, positive_int

LOAD = Setting("load", None, "agent folder (saved by the training script) of the agent that plays", metavar="DIR",
               original_flag="--load")
AGENT_LR = Setting("agent_lr", 7e-4, "the A3C agent's RMSProp learning rate", positive_float, original_flag="--lr")
RMSPROP_EPSILON = Setting("rmsprop_epsilon", 1e-1, "A3C RMSProp epsilon", positive_float,
                          original_flag="--rmsprop-epsilon")
WEIGHT_DECAY = Setting("weight_decay", 0.0, "A3C weight decay", non_negative_float, original_flag="--weight-decay")
LR_DECAY = Setting("lr_decay", False, "decay the A3C learning rate linearly to 0 over the training steps "
                   "(chainerrl's A3C examples do)", bool, original_flag="--lr-decay")
T_MAX = Setting("t_max", 5, "A3C rollout length, steps", positive_int, original_flag="--t-max")
BETA = Setting("beta", 1e-2, "A3C entropy weight", non_negative_float, original_flag="--beta")
REWARD_SCALE_FACTOR = Setting("reward_scale_factor", 1e-2, "the agent learns from reward x this", positive_float,
                              original_flag="--reward-scale-factor")
