"""Row indices of the parameter vector (generated from data/axis_parameters.tsv; a test checks they agree)."""

# fmt: off
PARAM_NAMES = (
    'B_ref', 'L_ref', 'Pb_ref', 'Bc_ref', 'r_B', 'r_L', 'r_Pb', 'r_Bc', 'a_B_L', 'a_B_Bc', 'a_L_B', 'a_Pb_B', 'a_Pb_L',
    'a_Pb_R', 'a_Bc_B', 'F_ref', 'FF_ref', 'UPF_ref', 'SUG_ref', 'SF_ref', 'S_ref', 'K_F', 'K_Rf', 'e_B_fib',
    'e_Bc_fib', 'e_Pb_sf', 'e_Pb_sug', 'e_Pb_upf', 'i_L_ff', 'i_L_pro', 'pro_log50', 'R_ref', 'k_R', 'e_R_ff', 'K_FF',
    'e_R_upf', 'bu_ref', 'w_bu', 'k_prop', 'IP_ref', 'k_IP', 'c_bu', 'g_IP_crh', 'g_IP_tnf', 'g_IP_diet', 'g_mc',
    'c_chylo', 'LBP_ref', 'k_LBP', 'a_LBP', 'k_O', 'k_GR', 'hpa_kfb', 'hpa_r1', 'hpa_K', 's_gain', 'react', 'm_max',
    'K_M', 'c_cyt', 'cort_ref', 'il6_b', 'tnf_b', 'il1b_b', 'il10_b', 'il17_b', 'K_LPS', 'E6_LPS', 'Et_LPS', 'E1_LPS',
    'E10_LPS', 'E6_A', 'Et_A', 'E1_A', 'E6_17', 'G_gc', 'I_10', 'e_sns6', 'e_snst', 'e10_T', 'e10_O', 'Treg_ref',
    'Th17_ref', 'k_T', 'k_17', 'e_T_scfa', 'e_T_L', 'i_T_6', 'e_17_6', 'e_17_Pb', 'i_17_T', 'alpha1', 'alpha2',
    'alpha3', 'alpha4', 'gamma', 'alpha2_ra', 'alpha2_sle', 'k_A', 'beta_L', 'beta_17', 'beta_T', 'dmard_eff', 'k_CRP',
    'crp_max', 'crp_K', 'crp_gain', 'das_c0', 'das_c1', 'sledai_c1', 'cv_il6', 'cv_tnf', 'cv_crp', 'cv_lps', 'cv_lm',
    'cv_treg', 'cv_div', 'sd_das', 'dg_B', 'dg_L', 'dg_Pb', 'dg_Bc', 'k_crh_a', 'k_O_a', 'k_mc_a', 'k_mc_off_a',
    'k_sns_a', 'k_lps_a', 'k_act_a', 'k_act2_a', 'k6_a', 'kt_a', 'k10_a', 'K_sys', 'E6_sys', 'Et_sys', 'E10_sys',
    'S_lab', 'K_cyt_a', 'cv_acute', 'g_IP_res', 'asym_dn', 'E6_A_sle', 'il6_sle', 'alpha2_ms', 'ms_kon', 'ms_koff',
    'ms_spill', 'ms_relapse',
)
P_B_ref = 0
P_L_ref = 1
P_Pb_ref = 2
P_Bc_ref = 3
P_r_B = 4
P_r_L = 5
P_r_Pb = 6
P_r_Bc = 7
P_a_B_L = 8
P_a_B_Bc = 9
P_a_L_B = 10
P_a_Pb_B = 11
P_a_Pb_L = 12
P_a_Pb_R = 13
P_a_Bc_B = 14
P_F_ref = 15
P_FF_ref = 16
P_UPF_ref = 17
P_SUG_ref = 18
P_SF_ref = 19
P_S_ref = 20
P_K_F = 21
P_K_Rf = 22
P_e_B_fib = 23
P_e_Bc_fib = 24
P_e_Pb_sf = 25
P_e_Pb_sug = 26
P_e_Pb_upf = 27
P_i_L_ff = 28
P_i_L_pro = 29
P_pro_log50 = 30
P_R_ref = 31
P_k_R = 32
P_e_R_ff = 33
P_K_FF = 34
P_e_R_upf = 35
P_bu_ref = 36
P_w_bu = 37
P_k_prop = 38
P_IP_ref = 39
P_k_IP = 40
P_c_bu = 41
P_g_IP_crh = 42
P_g_IP_tnf = 43
P_g_IP_diet = 44
P_g_mc = 45
P_c_chylo = 46
P_LBP_ref = 47
P_k_LBP = 48
P_a_LBP = 49
P_k_O = 50
P_k_GR = 51
P_hpa_kfb = 52
P_hpa_r1 = 53
P_hpa_K = 54
P_s_gain = 55
P_react = 56
P_m_max = 57
P_K_M = 58
P_c_cyt = 59
P_cort_ref = 60
P_il6_b = 61
P_tnf_b = 62
P_il1b_b = 63
P_il10_b = 64
P_il17_b = 65
P_K_LPS = 66
P_E6_LPS = 67
P_Et_LPS = 68
P_E1_LPS = 69
P_E10_LPS = 70
P_E6_A = 71
P_Et_A = 72
P_E1_A = 73
P_E6_17 = 74
P_G_gc = 75
P_I_10 = 76
P_e_sns6 = 77
P_e_snst = 78
P_e10_T = 79
P_e10_O = 80
P_Treg_ref = 81
P_Th17_ref = 82
P_k_T = 83
P_k_17 = 84
P_e_T_scfa = 85
P_e_T_L = 86
P_i_T_6 = 87
P_e_17_6 = 88
P_e_17_Pb = 89
P_i_17_T = 90
P_alpha1 = 91
P_alpha2 = 92
P_alpha3 = 93
P_alpha4 = 94
P_gamma = 95
P_alpha2_ra = 96
P_alpha2_sle = 97
P_k_A = 98
P_beta_L = 99
P_beta_17 = 100
P_beta_T = 101
P_dmard_eff = 102
P_k_CRP = 103
P_crp_max = 104
P_crp_K = 105
P_crp_gain = 106
P_das_c0 = 107
P_das_c1 = 108
P_sledai_c1 = 109
P_cv_il6 = 110
P_cv_tnf = 111
P_cv_crp = 112
P_cv_lps = 113
P_cv_lm = 114
P_cv_treg = 115
P_cv_div = 116
P_sd_das = 117
P_dg_B = 118
P_dg_L = 119
P_dg_Pb = 120
P_dg_Bc = 121
P_k_crh_a = 122
P_k_O_a = 123
P_k_mc_a = 124
P_k_mc_off_a = 125
P_k_sns_a = 126
P_k_lps_a = 127
P_k_act_a = 128
P_k_act2_a = 129
P_k6_a = 130
P_kt_a = 131
P_k10_a = 132
P_K_sys = 133
P_E6_sys = 134
P_Et_sys = 135
P_E10_sys = 136
P_S_lab = 137
P_K_cyt_a = 138
P_cv_acute = 139
P_g_IP_res = 140
P_asym_dn = 141
P_E6_A_sle = 142
P_il6_sle = 143
P_alpha2_ms = 144
P_ms_kon = 145
P_ms_koff = 146
P_ms_spill = 147
P_ms_relapse = 148
N_PARAMS = 149
# fmt: on
