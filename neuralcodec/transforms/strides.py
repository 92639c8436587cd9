"""The transforms' downsampling, as plain numbers (no torch: the header readers need them)."""

#: Downsampling of the analysis transform: one latent cell per 16 x 16 pixels.
LATENT_STRIDE = 16
#: Total downsampling of the analysis (16) times the hyper analysis (4).
STRIDE = 64
