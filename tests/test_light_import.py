"""`import recurrent_sim` is light: gym, the emulator and the games come with the env helpers, when first needed."""
import subprocess
import sys

from tests.helpers import REPO, python_env


def run_python(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=python_env(),
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_importing_the_package_and_a_utils_module_loads_no_game():
    result = run_python("import recurrent_sim, recurrent_sim.utils.files; import sys; "
                        "print('gym' in sys.modules, 'ale_py' in sys.modules)")
    assert result.stdout.split() == ["False", "False"]


def test_the_env_helpers_register_the_games_with_gym_quietly():
    result = run_python("import recurrent_sim; from recurrent_sim.envs import make_env; import gym; "
                        "print(gym.make('BlockWorld-v1').action_space.n, make_env('Breakout-v0').action_space.n)")
    assert result.stdout.split() == ["5", "4"]
    assert "Gym has been unmaintained" not in result.stderr  # gym's import notice is swallowed
