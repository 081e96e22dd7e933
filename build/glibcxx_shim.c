/*
 * Compatibility shim for TorchSharp's native bridge on libstdc++ older than GCC 13.
 *
 * libLibTorchSharp.so (TorchSharp 0.107.0) was linked against GCC 13's libstdc++ and references one symbol
 * versioned GLIBCXX_3.4.32: std::ios_base_library_init(). GCC 13 added it so that objects which use
 * <iostream> pull in the library's own stream initialisation; older libstdc++ initialises the standard
 * streams through ios_base::Init instead, so an empty definition is behaviourally sufficient.
 * The build links this library into the output folder only when the system libstdc++ lacks that version.
 */
void _ZSt21ios_base_library_initv(void)
{
}
