"""CPU kernels: the same functions as ``ppugatit/layers.py``, computed faster.

``cpu.py`` holds the kernels and their switches, ``malloc.py`` the allocator setting (it
imports nothing heavy, so that the official code's benchmark process can share it).
``ppugatit/device.py`` switches them on, once, from the config and the device.

What each buys, measured as an A/B in one process (on and off in turns, median of the
turns) by ``python tools/bench_kernels.py``; the tables with the CPU models are in
docs/benchmarks.md, "Each CPU kernel, on and off".

- ``onednn_conv``: convolutions of 8 MFLOP and more as oneDNN programs instead of Paddle's
  eager im2col + GEMM.
- ``pad_gradient``: reflection padding by slices with a hand-written gradient that adds only
  the edges, instead of pad3d.
- ``upsample_gradient``: nearest 2x up-sampling as a broadcast whose gradient is one sum per
  2 x 2 block, instead of nearest_interp.
- ``fused_norm``: AdaILN/ILN's instance and layer statistics through two fused instance-norm
  kernels, instead of means and variances written out.
- ``grouped_spectral_norm``: U-GAT-IT's D update calls each discriminator once on
  ``[real; fake]``, its spectral norms stepping twice, instead of once per half.
- ``malloc.keep_freed_memory``: freed blocks stay in the heap for the next step instead of
  being unmapped and page-faulted anew.
"""
