from cephalon_tui.entry import main

main()
