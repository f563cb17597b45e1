"""wsteer: contrastive weight steering, θ0 + α·(θ+ − θ−), and where its signal lives."""
__version__ = "0.1.0"
